"""Multirun sweeps: deterministic job directories, done markers, skip/resume/re-run, an MLflow
parent run with the cross-validation aggregate, and the end-of-sweep summary."""
