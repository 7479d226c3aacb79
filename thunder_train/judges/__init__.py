"""Judges: frozen networks that score animation against audio (training losses and evaluation).

- ``m2s``: mesh-to-speech, performance -> speaker-normalised log-mel at 50 fps; ``m2s_loss`` for training.
- ``sync``: SyncNet-style audio/mouth window embeddings; ``sync_loss`` (loss copy) and LSE-D/LSE-C
  (eval copy, other seed and the other half of the data: voices split within each source).
- ``lipreader``: mouth channels -> phone class per frame; evaluation only, never a loss.

Checkpoints (``train_all_judges(corpus_root, out_dir)``, not committed; default ``data/judges/``):

    data/judges/m2s_mouth.pt      load_m2s(path)    inputs = mouth/jaw channels (main loss)
    data/judges/m2s_all.pt        load_m2s(path)    inputs = all 55 channels (ablation)
    data/judges/sync_loss.pt      load_sync(path)   for sync_loss during generator training
    data/judges/sync_eval.pt      load_sync(path)   for LSE-D / LSE-C only
    data/judges/lipreader.pt      load_lipreader(path)
    data/judges/judges.json       training numbers of every judge; ``_meta.corpus`` = the corpus used

Architectures (all small temporal convnets, one CPU thread, a few minutes each):
- M2S: 1x1 input projection, 5 residual dilated conv blocks (kernel 5, dilations 1 2 4 8 1, 96 channels,
  receptive field 1.3 s), 80 outputs; MSE on the per-utterance normalised, pair-averaged log-mel.
- Sync expert: unpadded convs (kernels 3 3 3 4 over 50 fps positions; audio side first pools mel pairs with
  a kernel-2 stride-2 conv), 96 channels, 64-d unit embeddings of 0.2 s windows; softmax over the true
  window, same-clip shifts of +-8 frames and other clips (temperature 0.1).
- Lip reader: residual dilated convs (kernel 3, dilations 1 2 4, 64 channels, +-7 frames) -> 10 classes.

Generator-side use (mel = raw ``core.features.log_mel`` of the clean audio, (B, Tm, 80) at 100 fps):

    m2s = load_m2s("data/judges/m2s_mouth.pt");  loss = m2s_loss(m2s, x0, mel, mask)
    expert = load_sync("data/judges/sync_loss.pt");  loss = sync_loss(expert, x0, mel, mask)
"""
from __future__ import annotations

DEFAULT_DIR = "data/judges"
PATHS: dict[str, str] = {
    "m2s_mouth": "m2s_mouth.pt",
    "m2s_all": "m2s_all.pt",
    "sync_loss": "sync_loss.pt",
    "sync_eval": "sync_eval.pt",
    "lipreader": "lipreader.pt",
}
