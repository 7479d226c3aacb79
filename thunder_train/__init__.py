"""Training side: corpus synthesis, networks, training, evaluation, ONNX export (torch, librosa)."""
