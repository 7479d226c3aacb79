"""numpy + onnxruntime: model sessions, take sampling, background jobs."""
