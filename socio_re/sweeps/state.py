"""What a job directory says about the job: finished (done marker), interrupted (checkpoints
but no marker) or not run / failed (neither); and :class:`JobRecord`, what the launcher knows
of each job of a sweep (here, at the bottom of sweeps/, so that every module of the sweep can
import it without an import circle)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socio_re.utils.files import read_json_or_none

DONE_FILE = "done.json"
# The logger of every launcher-side module of the sweep: its messages kept the name they had
# when one module (sweeps/launcher.py) held them all, so logging filters on it still work.
SWEEP_LOG = "socio_re.sweeps.launcher"


@dataclass
class JobRecord:
    """One job of a sweep: written to sweep_summary.json, printed in the summary table."""

    num: int
    name: str
    overrides: str
    directory: str
    status: str = "pending"  # completed | skipped | interrupted | not started | failed
    error: str = ""
    log: str = ""
    job_id: str = ""  # submitit's: the SLURM job id (123_4 in an array), a pid on this machine
    metrics: dict[str, Any] = field(default_factory=dict)


def write_done(run_dir: Path, metrics: dict[str, Any], tracking: str) -> Path:
    """Written last, by rank 0, once metrics and outputs are on disk: its presence means the job
    is complete and a re-run of the sweep may skip it."""
    path = Path(run_dir) / DONE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"status": "completed", "finished_at": time.time(),
                               "metrics": metrics, "tracking": tracking}, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_done(run_dir: Path) -> dict[str, Any] | None:
    return read_json_or_none(Path(run_dir) / DONE_FILE)


def has_checkpoint(run_dir: Path) -> bool:
    return any((Path(run_dir) / "checkpoints").glob("checkpoint-*"))


def job_state(run_dir: Path) -> str:
    """completed | interrupted | new"""
    if read_done(run_dir):
        return "completed"
    return "interrupted" if has_checkpoint(run_dir) else "new"


def clear_done(run_dir: Path) -> None:
    (Path(run_dir) / DONE_FILE).unlink(missing_ok=True)


# How a job ended when it ended on purpose with a one-line error or a planned stop: written by
# the job into <sweep_dir>/.job_exits/<job>.json (not its run directory, which a start-up error
# removes), read by the launcher as data instead of parsing submitit's traceback text.
EXITS_DIR = ".job_exits"


def _exit_file(sweep_dir: Path, job: str) -> Path:
    return Path(sweep_dir) / EXITS_DIR / f"{job}.json"


def write_job_exit(sweep_dir: Path, job: str, code: int, message: str) -> None:
    path = _exit_file(sweep_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"code": code, "message": message}) + "\n")


def read_job_exit(sweep_dir: Path, job: str) -> dict[str, Any] | None:
    """``{"code": int, "message": str}`` of the job's last attempt, or None."""
    return read_json_or_none(_exit_file(sweep_dir, job))


def clear_job_exit(sweep_dir: Path, job: str) -> None:
    _exit_file(sweep_dir, job).unlink(missing_ok=True)
