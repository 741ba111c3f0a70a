"""Experiment tracking: MLflow by default, a no-op tracker for tracking=none."""

from socio_re.tracking.tracker import NullTracker, Tracker, make_tracker

__all__ = ["NullTracker", "Tracker", "make_tracker"]
