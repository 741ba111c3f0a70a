"""Command-line entry points: train (Hydra), evaluate and predict."""
