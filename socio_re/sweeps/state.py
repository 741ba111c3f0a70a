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
    nodes: str = ""  # the SLURM nodes it ran on (node list), when it ran on SLURM
    # What happened to it on the way, one line each (a node lost and the job requeued).
    events: list[str] = field(default_factory=list)


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


# What happened to a job on the way that the scheduler does not keep (a node lost mid-training
# and the job requeued): one JSON line per event in <sweep_dir>/.job_events/<job>.jsonl, written
# by the job, read into the sweep's summary. Kept across attempts: the history of the job.
EVENTS_DIR = ".job_events"


def _events_file(sweep_dir: Path, job: str) -> Path:
    return Path(sweep_dir) / EVENTS_DIR / f"{job}.jsonl"


def add_job_event(sweep_dir: Path, job: str, line: str, key: Any = None) -> None:
    """Append ``line``; with ``key``, only once per key (several nodes report one loss)."""
    path = _events_file(sweep_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    if key is not None and path.is_file() and any(
            f'"key": {json.dumps(key)}' in raw for raw in path.read_text().splitlines()):
        return
    with path.open("a") as fh:
        fh.write(json.dumps({"time": time.time(), "line": line, "key": key}) + "\n")


def read_job_events(sweep_dir: Path, job: str) -> list[str]:
    path = _events_file(sweep_dir, job)
    if not path.is_file():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw)["line"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash mid-write
    return lines
