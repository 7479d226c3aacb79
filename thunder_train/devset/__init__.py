"""Real-speech development set: voices never used in training, per style group (issue 13)."""
