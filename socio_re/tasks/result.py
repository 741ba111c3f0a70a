"""What a task's run returns to the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TaskResult:
    # Flat final metrics (written to metrics.json and logged to the tracker).
    metrics: dict[str, Any] = field(default_factory=dict)
    # Small files uploaded to the tracker as artifacts (predictions, tables, manifests).
    artifacts: dict[str, Path] = field(default_factory=dict)
    # Large outputs only shown in the summary (the saved model, checkpoints).
    paths: dict[str, Path] = field(default_factory=dict)
    # Training saved and stopped early: trainer.stop_at_step, or SLURM's time-limit signal.
    interrupted: bool = False
    # Text the summary prints under the metrics (socrates: the paper-style results table).
    report: str = ""
