"""Model loading (hub names, local dirs, offline tiny models) and fine-tuning wrappers."""
