"""How a finished job ended, read from its submitit job: the record's status, error line and
metrics; and the JobReturn per job that Hydra expects back from the launcher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from socio_re.errors import RunInterrupted
from socio_re.sweeps.state import (
    JobRecord,
    has_checkpoint,
    read_done,
    read_job_events,
    read_job_exit,
)
from socio_re.sweeps.submitit_adapter import first_task_result, returned_exception


def error_line(text: str) -> str:
    """Why a job without an exit record ended: submitit's "no output" verdict for a process
    that died (killed, out of memory), else the exception's last line. (A job that ended with
    its own one-line error or a planned stop left a record: ``read_job_exit``.)"""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("has not produced any output"):
            return f"the job process died without a result ({line.split('(', 1)[-1].rstrip(')')})"
    return lines[-1][:300] if lines else "unknown error"


def job_nodes(job) -> str:
    """The SLURM node list the job ran on, from the scheduler's last answer (sacct or squeue:
    ``node[1-2]``); "" on this machine or when the scheduler no longer lists it."""
    try:
        info = job.get_info(mode="cache") if hasattr(job, "get_info") else {}
    except Exception:
        return ""
    nodes = str((info or {}).get("NodeList") or "")
    return "" if nodes.lower() in ("", "none", "none assigned", "(null)") else nodes


def collect_result(job, rec: JobRecord, sweep_dir: Path, results: dict[int, Any]) -> None:
    """A finished job's status, error line and metrics into its record; its JobReturn into
    ``results`` when it completed."""
    from hydra.core.utils import JobStatus

    rec.log, rec.job_id = str(job.paths.stderr), str(job.job_id)
    rec.nodes = job_nodes(job) or rec.nodes
    rec.events = read_job_events(sweep_dir, rec.name)
    try:
        ret = first_task_result(job)
    except Exception as exc:  # the job raised (JobExit) or died
        ended = read_job_exit(sweep_dir, rec.name)
        rec.error = f"exit {ended['code']}: {ended['message']}" if ended \
            else error_line(str(exc))
        # A planned stop (exit 3), or a job killed from outside after a checkpoint: both
        # resume on a re-run, so neither is a failure to fix.
        planned = bool(ended) and ended["code"] == RunInterrupted.exit_code
        killed = not ended and has_checkpoint(Path(rec.directory))
        rec.status = "interrupted" if planned or killed else "failed"
        return
    if ret.status == JobStatus.COMPLETED:
        rec.status = "completed"
        rec.metrics = (read_done(Path(rec.directory)) or {}).get("metrics", {})
        results[rec.num] = ret
    else:
        exc = returned_exception(ret)
        rec.status = "failed"
        rec.error = error_line(f"{type(exc).__name__}: {exc}")


def hydra_returns(records: list[JobRecord], results: dict[int, Any]) -> list:
    """Hydra's JobReturn per job, in order: the run's, or for a skipped job its earlier
    result (objective) from the done marker."""
    from hydra.core.utils import JobReturn, JobStatus

    for rec in records:
        if rec.num not in results:
            ret = JobReturn()
            ret.status = JobStatus.COMPLETED
            ret.return_value = rec.metrics.get("objective")
            ret.overrides = rec.overrides.split()
            results[rec.num] = ret
    return [results[r.num] for r in records]
