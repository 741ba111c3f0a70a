"""The part of training both tasks share: callbacks, resume, train."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_callbacks(rc, tracker) -> tuple[list, object]:
    """Tracker callback, and the stopper that saves and stops at trainer.stop_at_step (a
    simulated preemption) or when SLURM warns of the time limit (training/preemption.py)."""
    from socio_re.training.callbacks import TrackerCallback
    from socio_re.training.preemption import SaveAndStopCallback

    stopper = SaveAndStopCallback(rc.trainer.stop_at_step)
    return [TrackerCallback(tracker), stopper], stopper


def fit(trainer, resume: str, run_dir: Path, tracker=None) -> None:
    """Readable progress, the engine report, then train — from the newest complete checkpoint
    when ``resume`` says so."""
    from socio_re.training.callbacks import CompletenessMarkerCallback, use_compact_progress
    from socio_re.training.checkpoints import resolve_resume
    from socio_re.training.engine_report import ENGINE_FILE, EngineReportCallback

    use_compact_progress(trainer)
    trainer.add_callback(CompletenessMarkerCallback())  # what makes a checkpoint trusted
    trainer.add_callback(EngineReportCallback(trainer, run_dir / ENGINE_FILE, tracker))
    resume_from = resolve_resume(resume, Path(trainer.args.output_dir))
    if resume_from:
        log.info("resuming from %s", resume_from)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
