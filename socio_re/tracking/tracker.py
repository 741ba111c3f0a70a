"""Tracker interface and the MLflow implementation.

We start the MLflow run ourselves (instead of transformers' MLflowCallback) so that training,
evaluation and artifacts all land in one run, and a resumed job continues that same run: its id
is kept in ``<run_dir>/tracking.json``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socio_re.config.schema import TrackingConfig
from socio_re.tracking.store import (
    BrokenStore,
    default_tracking_uri,
    recorded_run_id,
    write_run_id_file,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from socio_re.tracking.offline import OfflineRecord
    from socio_re.tracking.provenance import DatasetRecord
    from socio_re.tracking.system_metrics import SystemMetrics

log = logging.getLogger(__name__)

# MLflow's limit on a dataset digest (a longer one is stored as its hash).
MAX_DATASET_DIGEST_CHARS = 36


class Tracker:
    """Interface; also the no-op used for tracking=none and on ranks other than 0."""

    run_id: str | None = None
    uri: str | None = None
    experiment: str | None = None
    run_name: str | None = None  # the tracked run's name (a resumed run keeps its first one)

    def log_params(self, params: dict[str, str]) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...

    def log_datasets(self, datasets: Sequence[DatasetRecord]) -> None: ...

    def finish(self, status: str = "FINISHED") -> None: ...

    def describe(self) -> str:
        return "tracking disabled (tracking=none)"


NullTracker = Tracker


class MlflowTracker(Tracker):
    """This job's MLflow run. Tracking never stops training: when the server cannot be reached,
    at start (a quick probe of http(s) servers) or at any later call, everything from then on
    is kept in ``<run_dir>/mlflow_offline/`` (:mod:`socio_re.tracking.offline`) for
    ``python -m socio_re.cli.sync_tracking RUN_DIR`` to upload later. Once offline the tracker
    stays offline for the rest of the job, so no later call waits on a dead server again.
    The one exception, before training starts: a local store broken beyond repair
    (:class:`~socio_re.tracking.store.BrokenStore`) ends the job with one line naming the file.

    A resumed job with a record not uploaded yet uploads it first when the server answers again,
    then continues that run online; otherwise it appends to the record."""

    def __init__(self, cfg: TrackingConfig, experiment: str, run_name: str, run_dir: Path):
        from socio_re.tracking import offline

        offline.bound_http_retries()
        self.uri = cfg.tracking_uri or default_tracking_uri()
        self.experiment = experiment
        self.experiment_id: str | None = None
        self.run_id = None
        self._run_name = self.run_name = run_name
        self._run_dir = Path(run_dir)
        self._offline: OfflineRecord | None = None
        self._client: Any = None
        self._system_metrics_on = cfg.system_metrics
        self._system: SystemMetrics | None = None
        reason = offline.unreachable_reason(self.uri)
        if reason is not None:
            self._go_offline(reason)
            return
        try:
            if offline.OfflineRecord.pending(self._run_dir) is not None:
                log.info("uploading the offline MLflow record of an earlier attempt")
                offline.upload_record(self._run_dir, self.uri)
            self._start(experiment, run_name)
        except BrokenStore:
            # A local store that cannot be repaired: a record kept offline could not be
            # uploaded into it either. One line saying which file and what to do, exit 2.
            raise
        except Exception as exc:
            self._go_offline(offline.one_line(exc))

    def _start(self, experiment: str, run_name: str) -> None:
        import mlflow

        from socio_re.tracking.store import connect

        store = connect(self.uri, experiment)
        if isinstance(store, str):
            raise ConnectionError(store)  # -> offline, with this reason
        self._mlflow = mlflow
        mlflow.set_tracking_uri(self.uri)
        self._client, exp_id = store.client, store.experiment_id
        previous = self._previous_run_id(self._run_dir)
        if previous:
            log.info("continuing MLflow run %s", previous)
            run = self._client.get_run(previous)
            self._client.update_run(previous, status="RUNNING")
        else:
            run = self._client.create_run(exp_id, run_name=run_name)
        self.run_id = run.info.run_id
        self.run_name = run.info.run_name or run_name
        self.experiment_id = exp_id
        write_run_id_file(self._run_dir, self.run_id, self.uri, experiment)
        if self._system_metrics_on:
            from socio_re.tracking.system_metrics import SystemMetrics

            self._system = SystemMetrics.start(self.run_id, self.uri, resume=bool(previous))

    def _previous_run_id(self, run_dir: Path) -> str | None:
        """The run ``tracking.json`` names for this store, if the store still has it."""
        run_id = recorded_run_id(run_dir, self.uri)
        if run_id is None:
            return None
        try:
            self._client.get_run(run_id)
        except Exception:
            return None
        return run_id

    # --- offline fallback ----------------------------------------------------------------------

    def _go_offline(self, reason: str) -> OfflineRecord:
        if self._offline is None:
            from socio_re.tracking import offline

            # The run already started on the server (this job's, or the one tracking.json names
            # on resume) is the one the upload completes.
            run_id = self.run_id or offline.recorded_run_id(self._run_dir, self.uri)
            if self._system is not None:  # its samples have nowhere to go now
                self._system.abandon()
                self._system = None
            self._offline = offline.OfflineRecord.open(
                self._run_dir, tracking_uri=self.uri, experiment=self.experiment or "",
                run_name=self._run_name, run_id=run_id)
            log.warning("%s unreachable (%s); training goes on and tracking data is %s",
                        offline.server_label(self.uri), reason, self._offline.describe())
        return self._offline

    def _offline_after(self, what: str, call: Callable[[], object]) -> OfflineRecord | None:
        """Make one client call while online: None when it went through, else the offline
        record that takes this call (and all later ones)."""
        if self._offline is not None:
            return self._offline
        try:
            call()
            return None
        except Exception as exc:  # any client failure: a dead server, a broken store, a bug
            from socio_re.tracking.store import one_line

            return self._go_offline(f"{what}: {one_line(exc)}")

    # --- tracking ------------------------------------------------------------------------------

    def log_params(self, params: dict[str, str]) -> None:
        record = self._offline_after("log_params", lambda: self._log_params_online(params))
        if record is not None:
            record.add_params(params)

    def _log_params_online(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        existing = self._client.get_run(self.run_id).data.params
        # MLflow params are immutable; on resume only log the ones not there yet.
        new = [Param(k, v) for k, v in params.items() if k not in existing]
        for i in range(0, len(new), 100):
            self._client.log_batch(self.run_id, params=new[i : i + 100])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        record = self._offline_after("set_tags", lambda: self._client.log_batch(
            self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]))
        if record is not None:
            record.set_tags(tags)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import math
        import time

        now = int(time.time() * 1000)
        items = [(k.replace("@", "_"), float(v), now, step or 0)
                 for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)]
        for i in range(0, len(items), 500):
            batch = items[i : i + 500]
            record = self._offline_after("log_metrics",
                                         lambda batch=batch: self._log_metrics_online(batch))
            if record is not None:
                # Batches already sent stay on the server; the rest is kept.
                record.add_metrics(items[i:])
                return

    def _log_metrics_online(self, items: list[tuple[str, float, int, int]]) -> None:
        from mlflow.entities import Metric

        self._client.log_batch(self.run_id, metrics=[Metric(*item) for item in items])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if not Path(path).exists():
            return
        record = self._offline_after("log_artifact", lambda: self._client.log_artifact(
            self.run_id, str(path), artifact_path))
        if record is not None:
            record.add_artifact(Path(path), artifact_path)

    def log_datasets(self, datasets: Sequence[DatasetRecord]) -> None:
        """The run's data as MLflow dataset inputs (the UI's dataset column), each with its
        ``mlflow.data.context`` (train, val, test, source). MLflow keeps one input per name
        and digest, so a resumed run logging them again adds nothing. Offline there is no
        record of them: their digests are in the ``provenance.data.*`` tags."""
        if not datasets:
            return
        inputs = [_dataset_input(d) for d in datasets]  # outside: a bug here is no dead server
        record = self._offline_after("log_inputs", lambda: self._client.log_inputs(
            self.run_id, datasets=inputs))
        if record is not None:
            log.info("dataset inputs are not kept offline; their digests are in the "
                     "provenance.data.* tags")

    def finish(self, status: str = "FINISHED") -> None:
        if self._system is not None:  # before the run ends: its last sample goes in first
            self._system.stop()
            self._system = None
        record = self._offline_after(
            "finish", lambda: self._client.set_terminated(self.run_id, status=status))
        if record is not None:
            record.finish(status)

    def describe(self) -> str:
        if self._offline is not None:
            from socio_re.tracking.store import server_label

            return f"{server_label(self.uri)} unreachable: {self._offline.describe()}"
        return (f"MLflow run {self.run_id} in experiment '{self.experiment}' at {self.uri}")


def _dataset_input(record: DatasetRecord) -> Any:
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    digest = record.digest
    if len(digest) > MAX_DATASET_DIGEST_CHARS:  # hub:<long id>@<revision>
        from socio_re.data.cache import fingerprint

        digest = fingerprint(digest)
    dataset = Dataset(name=record.name, digest=digest, source_type=record.source_type,
                      source=json.dumps(record.source_spec()),
                      profile=json.dumps(record.profile) if record.profile else None)
    return DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, record.context)])


def git_commit(cwd: Path | None = None) -> str:
    """``<sha>`` or ``<sha>-dirty`` of the checkout at ``cwd``; ``unknown`` outside one."""
    from socio_re.tracking.provenance import git_state

    state = git_state(cwd or Path(__file__).parent)
    return state["commit"] + ("-dirty" if state["dirty"] else "")


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
    from socio_re.config.tasks import get_task

    task_tags = get_task(rc.task.name).hook("run_tags")
    if task_tags is not None:
        tags.update({k: str(v) for k, v in task_tags(rc).items()})
    for t in rc.tags:
        tags[f"tag.{t}"] = "1"
    # What the user set (compare shows these columns); empty = every default, which differs
    # from a run of an older version that has no such tag.
    tags["overrides"] = command_line_overrides(run_dir)
    return tags


def command_line_overrides(run_dir: Path) -> str:
    """The run's command-line overrides as Hydra recorded them (``.hydra/overrides.yaml``),
    space-joined; empty when the run did not start from the command line."""
    import yaml

    try:
        items = yaml.safe_load((Path(run_dir) / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return ""
    return " ".join(str(o) for o in items or [] if not str(o).startswith("hydra"))
