"""The MLflow side of a sweep: one parent run, created before the jobs start, each job a child
run (``mlflow.parentRunId``), and the cross-validation aggregate on the parent at the end.

The aggregate is recomputed from tags alone (``sweep_id`` on every child), so a sweep whose
launching process died can be summarised later: ``python -m socio_re.cli.aggregate SWEEP``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socio_re.metrics.spread import mean_std

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
AGGREGATE_FILE = "aggregate.json"
PARENT_TAG = "socio_re.sweep_parent"
# Final metrics worth a mean and spread over jobs (step curves such as train/loss are not).
AGGREGATED_PREFIXES = ("val/", "test/", "objective")


@dataclass(frozen=True)
class SweepRun:
    """Where a sweep is tracked: the store, the experiment and the parent run's id (all None
    with tracking=none; ``parent`` None too when the store could not be reached)."""

    uri: str | None = None
    experiment: str | None = None
    parent: str | None = None

    def finish_args(self, sweep_id: str) -> dict[str, Any] | None:
        """What sweeps/finish.py takes as ``tracking`` (None: no parent run to finish)."""
        if self.parent is None:
            return None
        return {"uri": self.uri, "experiment": self.experiment, "sweep_id": sweep_id,
                "parent": self.parent}


def open_sweep_run(cfg, launcher_kind: str, sweep_id: str, sweep_dir: Path) -> SweepRun:
    """The sweep's :class:`SweepRun` from its config, its parent run opened (:func:`open_parent`):
    without MLflow, or when the store cannot be reached, the jobs still run."""
    if cfg.tracking.backend != "mlflow":
        return SweepRun()
    from socio_re.tracking.tracker import default_tracking_uri, git_commit

    uri = cfg.tracking.get("tracking_uri") or default_tracking_uri()
    experiment = cfg.tracking.get("experiment_name") or cfg.task.name
    overrides = " ".join(str(o) for o in cfg.hydra.overrides.task)
    parent = open_parent(uri, experiment, sweep_id, sweep_dir, {
        "task": str(cfg.task.name), "overrides": overrides,
        "git_commit": git_commit(Path(__file__).parent), "launcher": launcher_kind})
    return SweepRun(uri, experiment, parent)


def open_parent(uri: str, experiment: str, sweep_id: str, sweep_dir: Path,
                tags: dict[str, str]) -> str | None:
    """The sweep's parent run id: the one recorded in ``sweep.json`` (a re-run of the same
    sweep), else a new run. None when the store cannot be reached (the jobs still run); a local
    store broken beyond repair raises :class:`~socio_re.tracking.store.BrokenStore` (every job
    would stop on it too)."""
    from socio_re.tracking.store import connect

    info_path = sweep_dir / SWEEP_FILE
    store = connect(uri, experiment)
    if isinstance(store, str):
        log.warning("MLflow store %s not usable (%s): no parent run for sweep %s; once it is "
                    "back, upload the jobs (python -m socio_re.cli.sync_tracking JOB_DIR...) and "
                    "run python -m socio_re.cli.aggregate %s", uri, store, sweep_id, sweep_dir)
        return None
    try:
        client = store.client
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        parent = info.get("parent_run_id") if info.get("tracking_uri") == uri else None
        if parent:
            client.get_run(parent)  # raises if it was deleted
            client.update_run(parent, status="RUNNING")
        else:
            run = client.create_run(store.experiment_id, run_name=f"sweep {sweep_id}",
                                    tags={**tags, PARENT_TAG: "true", "sweep_id": sweep_id,
                                          "sweep_dir": str(sweep_dir)})
            parent = run.info.run_id
    except Exception as exc:  # tracking must never stop a sweep
        log.warning("no MLflow parent run for sweep %s (%s: %s); the jobs still run and "
                    "`python -m socio_re.cli.aggregate %s` can summarise them later",
                    sweep_id, type(exc).__name__, exc, sweep_dir)
        return None
    info_path.write_text(json.dumps({"sweep_id": sweep_id, "parent_run_id": parent,
                                     "tracking_uri": uri, "experiment": experiment,
                                     "overrides": tags.get("overrides", "")}, indent=1) + "\n")
    return parent


def aggregate_metrics(children: list[dict[str, float]]) -> dict[str, float]:
    """``cv/<metric>/mean`` and ``cv/<metric>/std`` for every final metric of the jobs."""
    keys = sorted({k for m in children for k in m if k.startswith(AGGREGATED_PREFIXES)})
    out: dict[str, float] = {"cv/n_jobs": float(len(children))}
    for key in keys:
        values = [m[key] for m in children if key in m and math.isfinite(m[key])]
        if values:
            out[f"cv/{key}/mean"], out[f"cv/{key}/std"] = mean_std(values)
    return out


def child_runs(client, experiment_id: str, sweep_id: str) -> list:
    """The finished child runs of a sweep, found by their ``sweep_id`` tag alone."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.sweep_id = '{sweep_id}'",
                              max_results=5000)
    return [r for r in runs if r.data.tags.get(PARENT_TAG) != "true"
            and r.info.status == "FINISHED"]


def find_parent(client, experiment_id: str, sweep_id: str) -> str | None:
    runs = client.search_runs([experiment_id], filter_string=(
        f"tags.sweep_id = '{sweep_id}' and tags.`{PARENT_TAG}` = 'true'"), max_results=1)
    return runs[0].info.run_id if runs else None


def aggregate_sweep(uri: str, experiment: str, sweep_id: str, parent_run_id: str | None = None,
                    sweep_dir: Path | None = None) -> dict[str, Any]:
    """Compute the aggregate from the children's tags and metrics, log it on the parent (made
    if missing), write ``aggregate.json`` into the sweep directory when known; return it."""
    from socio_re.errors import UserError
    from socio_re.tracking.store import open_client

    client = open_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise UserError(f"no MLflow experiment {experiment!r} at {uri}; pass --experiment "
                        "(the task name by default) or --tracking-uri")
    children = child_runs(client, exp.experiment_id, sweep_id)
    if not children:
        raise UserError(f"no finished runs tagged sweep_id={sweep_id!r} in experiment "
                        f"{experiment!r} at {uri}")
    metrics = aggregate_metrics([dict(r.data.metrics) for r in children])
    folds = [r for r in children if "fold" in r.data.tags]
    run_dirs = [Path(r.data.tags["run_dir"]) for r in folds if "run_dir" in r.data.tags]
    task = children[0].data.tags.get("task")
    if folds and len(run_dirs) == len(folds) and task:
        from socio_re.config.tasks import TASKS

        if task in TASKS:
            metrics.update(TASKS[task].pool_folds(run_dirs))
    parent = parent_run_id or find_parent(client, exp.experiment_id, sweep_id)
    if parent is None:
        parent = client.create_run(exp.experiment_id, run_name=f"sweep {sweep_id}",
                                   tags={PARENT_TAG: "true", "sweep_id": sweep_id}).info.run_id
    log_summary_metrics(client, parent, metrics)
    client.set_tag(parent, "cv_jobs", ",".join(sorted(
        r.data.tags.get("job_num", r.info.run_id) for r in children)))
    result = {"sweep_id": sweep_id, "parent_run_id": parent, "experiment": experiment,
              "tracking_uri": uri, "jobs": len(children), "metrics": metrics}
    if sweep_dir is not None and Path(sweep_dir).is_dir():
        (Path(sweep_dir) / AGGREGATE_FILE).write_text(json.dumps(result, indent=1) + "\n")
    return result


def log_summary_metrics(client, run_id: str, metrics: dict[str, Any]) -> None:
    """Numbers summarising a sweep (aggregate, ensemble) on its parent run: one timestamp, step
    0, in MLflow's batches of at most 1000."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, 0) for k, v in metrics.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for i in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[i:i + 1000])


def finish_parent(uri: str, parent_run_id: str, status: str) -> None:
    try:
        from socio_re.tracking.store import open_client

        open_client(uri).set_terminated(parent_run_id, status=status)
    except Exception as exc:
        log.warning("could not close the MLflow parent run %s: %s", parent_run_id, exc)


def running_children(client, parent_run_id: str, sweep_id: str) -> list:
    """The sweep's child runs still RUNNING, found by their ``sweep_id`` tag in the parent's
    experiment (every job of the sweep carries it, and ``mlflow.parentRunId``)."""
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([experiment_id], filter_string=(
        f"tags.sweep_id = '{sweep_id}' and attributes.status = 'RUNNING'"), max_results=5000)
    return [r for r in runs if r.data.tags.get(PARENT_TAG) != "true"]


def mark_interrupted(uri: str, parent_run_id: str, sweep_id: str,
                     children: bool = True) -> list[str]:
    """After Ctrl-C: the child runs left RUNNING (their job processes were stopped before they
    could close them) and the parent run become KILLED, instead of RUNNING forever. With
    ``children=False`` only the parent (SLURM jobs keep running and close their own runs).
    Returns the ids of the child runs marked."""
    try:
        from socio_re.tracking.store import open_client

        client = open_client(uri)
        killed = [r.info.run_id for r in running_children(client, parent_run_id, sweep_id)
                  ] if children else []
        for run_id in killed:
            client.set_terminated(run_id, status="KILLED")
        client.set_terminated(parent_run_id, status="KILLED")
    except Exception as exc:  # tracking must never hide the sweep's summary
        log.warning("could not mark the runs of sweep %s KILLED in MLflow (%s: %s)", sweep_id,
                    type(exc).__name__, exc)
        return []
    return killed
