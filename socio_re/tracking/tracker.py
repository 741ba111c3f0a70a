"""Tracker interface and the MLflow implementation.

We start the MLflow run ourselves (instead of transformers' MLflowCallback) so that training,
evaluation and artifacts all land in one run, and a resumed job continues that same run: its id
is kept in ``<run_dir>/tracking.json``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from socio_re.config.schema import TrackingConfig

log = logging.getLogger(__name__)

RUN_ID_FILE = "tracking.json"


class Tracker:
    """Interface; also the no-op used for tracking=none and on ranks other than 0."""

    run_id: str | None = None
    uri: str | None = None
    experiment: str | None = None

    def log_params(self, params: dict[str, str]) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def finish(self, status: str = "FINISHED") -> None: ...

    def describe(self) -> str:
        return "tracking disabled (tracking=none)"


NullTracker = Tracker


def artifact_location_for(uri: str, experiment: str) -> str | None:
    """Beside a local sqlite store (not wherever the process runs); the server's choice else."""
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts" / experiment).as_uri()
    return None


def default_tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else a sqlite store in the working directory (what `mlflow ui`
    opens by default when started there)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


class MlflowTracker(Tracker):
    def __init__(self, cfg: TrackingConfig, experiment: str, run_name: str, run_dir: Path):
        import mlflow

        self._mlflow = mlflow
        self.uri = cfg.tracking_uri or default_tracking_uri()
        self.experiment = experiment
        mlflow.set_tracking_uri(self.uri)
        self._client = mlflow.MlflowClient(self.uri)
        exp = self._client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp else self._create_experiment(experiment)
        previous = self._previous_run_id(run_dir)
        if previous:
            log.info("continuing MLflow run %s", previous)
            run = self._client.get_run(previous)
            self._client.update_run(previous, status="RUNNING")
        else:
            run = self._client.create_run(exp_id, run_name=run_name)
        self.run_id = run.info.run_id
        self.experiment_id = exp_id
        (run_dir / RUN_ID_FILE).write_text(
            json.dumps({"run_id": self.run_id, "tracking_uri": self.uri,
                        "experiment": experiment}, indent=1) + "\n"
        )

    def _create_experiment(self, name: str) -> str:
        try:
            return self._client.create_experiment(
                name, artifact_location=artifact_location_for(self.uri, name))
        except Exception:
            exp = self._client.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    def _previous_run_id(self, run_dir: Path) -> str | None:
        f = run_dir / RUN_ID_FILE
        if not f.exists():
            return None
        try:
            info = json.loads(f.read_text())
            if info.get("tracking_uri") != self.uri:
                return None
            self._client.get_run(info["run_id"])
            return info["run_id"]
        except Exception:
            return None

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        existing = self._client.get_run(self.run_id).data.params
        # MLflow params are immutable; on resume only log the ones not there yet.
        new = [Param(k, v) for k, v in params.items() if k not in existing]
        for i in range(0, len(new), 100):
            self._client.log_batch(self.run_id, params=new[i : i + 100])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self._client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import math
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k.replace("@", "_"), float(v), now, step or 0)
                 for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)]
        for i in range(0, len(items), 500):
            self._client.log_batch(self.run_id, metrics=items[i : i + 500])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if Path(path).exists():
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        self._client.set_terminated(self.run_id, status=status)

    def describe(self) -> str:
        return (f"MLflow run {self.run_id} in experiment '{self.experiment}' at {self.uri}")


def git_commit(cwd: Path | None = None) -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=cwd, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=cwd, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def make_tracker(cfg: TrackingConfig, *, experiment: str, run_name: str, run_dir: Path) -> Tracker:
    if cfg.backend == "none" or not is_rank_zero():
        return NullTracker()
    return MlflowTracker(cfg, experiment, run_name, run_dir)


def tracker_tags(rc: Any, run_dir: Path) -> dict[str, Any]:
    tags = {
        "task": rc.task.name,
        "model": rc.model.name,
        "model.name_or_path": rc.model.name_or_path,
        "strategy": rc.strategy.name,
        "finetune": rc.finetune.method,
        "data": rc.data.name,
        "git_commit": git_commit(Path(__file__).parent),
        "run_dir": str(run_dir),
    }
    if rc.fold is not None:
        tags["fold"] = str(rc.fold)
    split = getattr(getattr(rc.data, "split", None), "kind", None)
    if split:
        tags["data.split"] = split
    for t in rc.tags:
        tags[f"tag.{t}"] = "1"
    return tags
