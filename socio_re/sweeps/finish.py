"""The end of a sweep: the aggregate logged on the MLflow parent run, the fold ensemble of a
complete fold sweep (the task's ``fold_ensemble`` hook), the parent run closed.

On this machine the submitting command does it once its jobs are over. On SLURM an *aggregate
job* does it on the cluster: submitted right after the job array with
``--dependency=afterany:<array>``, it starts when every task of the array has ended (a requeued
task has not: the dependency waits for its next attempt), so the aggregate and the ensemble exist
even when the shell that submitted the sweep was closed. The submitting command, if still there,
waits for that job and prints what it computed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from socio_re.sweeps.report import fold_groups, job_overrides
from socio_re.sweeps.state import DONE_FILE, job_state

log = logging.getLogger(__name__)

ENSEMBLE_DIR = "ensemble"
ENSEMBLE_PREFIX = "ensemble/"  # the ensemble's metrics on the parent run: ensemble/test/micro_f1


def finish_sweep(records: list, sweep_dir: Path, task: str, tracking: dict[str, Any] | None, *,
                 stopped: bool = False, jobs_cancelled: bool = False) -> dict[str, Any] | None:
    """Aggregate, ensemble and close the parent; returns the aggregate (with ``ensemble``), or
    None when there is none. ``tracking``: ``{"uri", "experiment", "sweep_id", "parent"}``, or
    None without MLflow. ``stopped``: the sweep was stopped by Ctrl-C (the parent and, with
    ``jobs_cancelled``, its children left RUNNING are marked KILLED instead of closed)."""
    failed = any(job_state(Path(r.directory)) != "completed" for r in records)
    ensemble = None if stopped else fold_ensemble(records, sweep_dir, task)
    if tracking is None or tracking.get("parent") is None:
        return {"jobs": 0, "metrics": {}, "ensemble": ensemble} if ensemble else None
    from socio_re.sweeps.parent import aggregate_sweep, finish_parent, mark_interrupted

    uri, parent, sweep_id = tracking["uri"], tracking["parent"], tracking["sweep_id"]
    aggregate = None
    try:
        aggregate = aggregate_sweep(uri, tracking["experiment"], sweep_id, parent, sweep_dir)
        log.info("aggregate of %d jobs logged on MLflow parent run %s", aggregate["jobs"], parent)
    except Exception as exc:
        log.warning("no aggregate for sweep %s: %s", sweep_id, exc)
    if ensemble:
        _log_on_parent(uri, parent, ensemble["metrics"])
        aggregate = {**(aggregate or {}), "ensemble": ensemble}
        _write_aggregate(sweep_dir, aggregate)
    if stopped:
        killed = mark_interrupted(uri, parent, sweep_id, children=jobs_cancelled)
        log.info("MLflow parent run %s and %d child runs marked KILLED", parent, len(killed))
    else:
        finish_parent(uri, parent, "FAILED" if failed else "FINISHED")
    return aggregate


def aggregate_job(records: list, sweep_dir: str, task: str,
                  tracking: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the SLURM aggregate job runs (after the array): :func:`finish_sweep`, with where it
    ran written into ``aggregate.json``."""
    from socio_re.utils.console import setup_logging

    setup_logging()
    where = f"SLURM job {os.environ.get('SLURM_JOB_ID', '?')} on {socket.gethostname()}"
    log.info("aggregate job for sweep %s (%s)", sweep_dir, where)
    result = finish_sweep(records, Path(sweep_dir), task, tracking)
    if result is not None:
        result["computed_by"] = where
        _write_aggregate(Path(sweep_dir), result)
    return result


def fold_ensemble(records: list, sweep_dir: Path, task: str) -> dict[str, Any] | None:
    """The fold models of a finished fold sweep (one setting, every fold 0..k-1 done) combined
    by the task's ``fold_ensemble`` hook on the test split, into ``<sweep>/ensemble``; None for
    any other sweep or a task without the hook. Recomputed only when a fold finished after
    the last ensemble."""
    from socio_re.config.tasks import TASKS

    groups = fold_groups(records)
    ensemble = TASKS[task].hook("fold_ensemble") if task in TASKS else None
    if ensemble is None or len(groups) != 1:
        return None
    folds = {job_overrides(r).get("fold"): Path(r.directory) for r in records}
    if any(job_state(d) != "completed" for d in folds.values()) or \
            sorted(folds) != [str(i) for i in range(len(folds))]:
        return None
    out = sweep_dir / ENSEMBLE_DIR
    runs = [folds[str(i)] for i in range(len(folds))]
    metrics_file = out / "metrics.json"
    newest_fold = max((d / DONE_FILE).stat().st_mtime for d in runs)
    if not (metrics_file.is_file() and metrics_file.stat().st_mtime >= newest_fold):
        try:
            ensemble(runs, out=out)
        except Exception as exc:  # the folds stand on their own; say why there is no ensemble
            log.warning("no fold ensemble for %s: %s", sweep_dir, exc)
            return None
    metrics = json.loads(metrics_file.read_text())
    return {"dir": str(out), "models": len(runs),
            "metrics": {k: v for k, v in metrics.items() if k.startswith("test/")}}


def _log_on_parent(uri: str, parent: str, metrics: dict[str, Any]) -> None:
    from socio_re.sweeps.parent import log_summary_metrics
    from socio_re.tracking.store import open_client

    try:
        log_summary_metrics(open_client(uri), parent,
                            {ENSEMBLE_PREFIX + k: v for k, v in metrics.items()})
    except Exception as exc:
        log.warning("could not log the fold ensemble on MLflow parent run %s: %s", parent, exc)


def _write_aggregate(sweep_dir: Path, aggregate: dict[str, Any]) -> None:
    from socio_re.sweeps.parent import AGGREGATE_FILE

    (sweep_dir / AGGREGATE_FILE).write_text(json.dumps(aggregate, indent=1, default=str) + "\n")
