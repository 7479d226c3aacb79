"""Evaluation of generators against the corpus: vertex metrics, sync scores, lip reading, closures."""
