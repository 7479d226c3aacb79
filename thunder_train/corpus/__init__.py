"""Training corpus: synthetic speech with exact phone timing, aligned real speech, performances.

Modules (one concept each):
- ``text``: offline sentence sources (Harvard, Austen, WordNet).
- ``espeak`` / ``flite`` / ``festival``: speech synthesis with phone times.
- ``voices``: voice inventory and the voice-level train/val/test split.
- ``phonemap``: phone names (IPA, CMU) -> articulation segments and ``thunder_train.phones`` classes.
- ``articulation``: mouth/jaw model with guaranteed lip closures; ``lips_sealed(perf, tol)``.
- ``expression``: emotion, blinks, brows, gaze, head motion.
- ``render``: audio + segments -> performance, phone classes, closure labels at any fps.
- ``synth``: one utterance job; ``build``: planning, process pool, shards, meta.json, data card.
- ``align`` (pocketsphinx), ``dtw_align`` (DTW against espeak-ng), ``real``: Asterisk prompts.
- ``augment``: training-time audio augmentation.
- ``shards`` / ``dataset``: storage and ``load_split(root, split)``.
- ``quality`` / ``datacard``: measured checks and docs/DATA_CARD.md.
"""
