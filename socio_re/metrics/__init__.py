"""Task metrics (SocSci210 distributional alignment and individual accuracy, relation F1)."""
