"""Evaluation helpers: turning generated text into answers that the metrics can score."""
