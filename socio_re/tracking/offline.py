"""Tracking data kept in the run directory while the MLflow server cannot be reached, and its
upload later.

A job must not die (or stall for minutes) because the tracking server is down, so
:class:`~socio_re.tracking.tracker.MlflowTracker` falls back to an :class:`OfflineRecord` in
``<run_dir>/mlflow_offline/``:

* ``run.json``: where it was meant to go (tracking URI, experiment, run name, the run id on that
  server if one was already created), tags, params, status, start and end times;
* ``metrics.jsonl``: one ``{"key", "value", "step", "timestamp"}`` per line, append-only;
* ``artifacts.json``: the files to upload (paths relative to the run directory when inside it,
  so the directory can be moved before the upload) and their ``artifact_path``.

:func:`upload_record` (``python -m socio_re.cli.sync_tracking RUN_DIR``) sends it to the server,
then renames the folder to ``mlflow_offline.uploaded`` and points ``tracking.json`` at the run, so
a resumed job continues that run. Progress is saved in ``sync_state.json`` after every metric
batch: an upload cut short continues where it stopped instead of logging metrics twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from socio_re.errors import UserError
from socio_re.tracking.store import (  # noqa: F401  (HTTP_RETRY_DEFAULTS: re-exported)
    HTTP_RETRY_DEFAULTS,
    bound_http_retries,
    experiment_id,
    one_line,
    recorded_run_id,
    server_label,
    unreachable_reason,
    write_run_id_file,
)

log = logging.getLogger(__name__)

OFFLINE_DIR = "mlflow_offline"
UPLOADED_DIR = "mlflow_offline.uploaded"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
ARTIFACTS_FILE = "artifacts.json"
SYNC_STATE_FILE = "sync_state.json"
UPLOADED_FILE = "uploaded.json"

SYNC_COMMAND = "python -m socio_re.cli.sync_tracking"
# MLflow's limits per log_batch call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_OR_TAGS_PER_BATCH = 100


def sync_command(run_dir: Path) -> str:
    return f"{SYNC_COMMAND} {shlex.quote(str(run_dir))}"


def _write_json(path: Path, data: Any) -> None:
    # Replace in one step: a job killed mid-write leaves the previous version, not half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _now_ms() -> int:
    return int(time.time() * 1000)


class OfflineRecord:
    """What a tracker would have sent, kept in ``<run_dir>/mlflow_offline/``.

    Every call reads and writes the files (no state in memory), so a record uploaded while the
    job is still running is started afresh, pointing at the uploaded run, on the next call."""

    def __init__(self, run_dir: Path, *, tracking_uri: str = "", experiment: str = "",
                 run_name: str = "", run_id: str | None = None):
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / OFFLINE_DIR
        self._defaults = {"tracking_uri": tracking_uri, "experiment": experiment,
                          "run_name": run_name, "run_id": run_id}

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def pending(cls, run_dir: Path) -> OfflineRecord | None:
        """The record in ``run_dir`` not uploaded yet, if any."""
        record = cls(run_dir)
        return record if (record.dir / RUN_FILE).exists() else None

    @classmethod
    def open(cls, run_dir: Path, *, tracking_uri: str, experiment: str, run_name: str,
             run_id: str | None) -> OfflineRecord:
        """Start recording, appending to a pending record of an earlier attempt of this job."""
        record = cls(run_dir, tracking_uri=tracking_uri, experiment=experiment,
                     run_name=run_name, run_id=run_id)
        if (record.dir / RUN_FILE).exists():
            run = record.header()
            # The latest intent wins for the destination; a run id it already had is kept.
            run["tracking_uri"] = tracking_uri
            run["run_id"] = run.get("run_id") or run_id
            run["status"], run["end_time"] = "RUNNING", None
            run["attempts"] = int(run.get("attempts", 1)) + 1
            _write_json(record.dir / RUN_FILE, run)
        else:
            record._ensure()
        return record

    def _ensure(self) -> None:
        if (self.dir / RUN_FILE).exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        uri = self._defaults["tracking_uri"]
        run = {
            "format": 1,
            "tracking_uri": uri,
            "experiment": self._defaults["experiment"],
            "run_name": self._defaults["run_name"],
            # After an upload during the job, tracking.json names the uploaded run: continue it.
            "run_id": recorded_run_id(self.run_dir, uri) or self._defaults["run_id"],
            "status": "RUNNING",
            "start_time": _now_ms(),
            "end_time": None,
            "attempts": 1,
            "tags": {},
            "params": {},
        }
        _write_json(self.dir / RUN_FILE, run)

    # --- reading ---------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        try:
            run = json.loads((self.dir / RUN_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the offline MLflow record {self.dir / RUN_FILE}: "
                            f"{one_line(exc)}") from exc
        if not isinstance(run, dict) or not run.get("experiment"):
            raise UserError(f"{self.dir / RUN_FILE} is not an offline MLflow record")
        run.setdefault("tags", {})
        run.setdefault("params", {})
        return run

    def metric_lines(self) -> list[str]:
        path = self.dir / METRICS_FILE
        return path.read_text().splitlines() if path.exists() else []

    def artifacts(self) -> list[dict[str, Any]]:
        path = self.dir / ARTIFACTS_FILE
        return json.loads(path.read_text()) if path.exists() else []

    def artifact_file(self, entry: dict[str, Any]) -> Path:
        path = Path(entry["path"])
        return path if path.is_absolute() else self.run_dir / path

    # --- recording -------------------------------------------------------------------------

    def _update(self, change: dict[str, Any]) -> None:
        self._ensure()
        run = self.header()
        for key, value in change.items():
            if key in ("tags", "params"):
                run[key].update(value)
            else:
                run[key] = value
        _write_json(self.dir / RUN_FILE, run)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._update({"tags": {k: str(v) for k, v in tags.items()}})

    def add_params(self, params: dict[str, Any]) -> None:
        self._ensure()
        existing = self.header()["params"]
        # MLflow params are immutable: the first value of a key is the one the server keeps.
        self._update({"params": {k: str(v) for k, v in params.items() if k not in existing}})

    def add_metrics(self, items: list[tuple[str, float, int, int]]) -> None:
        """Append (key, value, timestamp ms, step) tuples."""
        if not items:
            return
        self._ensure()
        path = self.dir / METRICS_FILE
        lines = "".join(json.dumps({"key": k, "value": v, "step": s, "timestamp": t}) + "\n"
                        for k, v, t, s in items)
        # A job killed mid-line leaves no newline; start on a fresh line so the next record is
        # not glued to the broken one.
        if path.exists() and path.stat().st_size:
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    lines = "\n" + lines
        with path.open("a") as f:
            f.write(lines)

    def add_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._ensure()
        path = Path(path).resolve()
        try:
            stored = str(path.relative_to(self.run_dir.resolve()))
        except ValueError:
            stored = str(path)
        entry = {"path": stored, "artifact_path": artifact_path}
        entries = self.artifacts()
        if entry not in entries:
            _write_json(self.dir / ARTIFACTS_FILE, [*entries, entry])

    def finish(self, status: str) -> None:
        self._update({"status": status, "end_time": _now_ms()})

    def describe(self) -> str:
        return f"kept in {self.dir}; upload later with: {sync_command(self.run_dir)}"


# --- upload ------------------------------------------------------------------------------------


@dataclass
class UploadResult:
    run_dir: Path
    run_id: str
    experiment: str
    tracking_uri: str
    already: bool = False
    metrics: int = 0
    params: int = 0
    artifacts: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        where = f"run {self.run_id} in experiment {self.experiment} at {self.tracking_uri}"
        if self.already:
            return f"{self.run_dir}: nothing to upload, already uploaded to {where}"
        text = (f"{self.run_dir}: uploaded to {where} ({self.metrics} metric values, "
                f"{self.params} new params, {self.artifacts} artifacts)")
        return text + "".join(f"; {note}" for note in self.notes)


def uploaded_dirs(run_dir: Path) -> list[Path]:
    """Uploaded records, oldest first (``mlflow_offline.uploaded``, then ``.2``, ``.3``...)."""

    def order(path: Path) -> int:
        suffix = path.name[len(UPLOADED_DIR) + 1 :]
        return int(suffix) if suffix.isdigit() else 1

    found = [p for p in run_dir.glob(UPLOADED_DIR + "*") if (p / UPLOADED_FILE).exists()]
    return sorted(found, key=order)


def _free_uploaded_name(run_dir: Path) -> Path:
    # A job that went offline again after an upload makes a second record: keep both.
    target, n = run_dir / UPLOADED_DIR, 2
    while target.exists():
        target, n = run_dir / f"{UPLOADED_DIR}.{n}", n + 1
    return target


def upload_record(run_dir: Path, tracking_uri: str | None = None) -> UploadResult:
    """Send the pending offline record of ``run_dir`` to ``tracking_uri`` (default: the URI it
    was meant for). A record already uploaded is a no-op. Raises :class:`UserError` for what the
    user can fix: no record, the server still unreachable, the upload failing midway."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory")
    record = OfflineRecord.pending(run_dir)
    if record is None:
        done = uploaded_dirs(run_dir)
        if done:
            info = json.loads((done[-1] / UPLOADED_FILE).read_text())
            return UploadResult(run_dir, info["run_id"], info["experiment"],
                                info["tracking_uri"], already=True)
        raise UserError(f"no offline MLflow record in {run_dir} (no {OFFLINE_DIR}/{RUN_FILE}): "
                        "this run was tracked online or not at all")
    run = record.header()
    uri = tracking_uri or run["tracking_uri"]
    bound_http_retries()
    reason = unreachable_reason(uri)
    if reason is not None:
        raise UserError(f"{server_label(uri)} is still unreachable ({reason}); the record in "
                        f"{record.dir} is kept, try again later")
    from mlflow.exceptions import MlflowException

    try:
        return _upload(record, run, uri)
    except (MlflowException, OSError) as exc:
        raise UserError(f"uploading {record.dir} to {uri} failed: {one_line(exc)}; what was "
                        "sent is remembered, run the command again to continue") from exc


def _run_exists(client: Any, run_id: str | None) -> bool:
    if not run_id:
        return False
    try:
        client.get_run(run_id)
        return True
    except Exception:  # not found on this server (or deleted): a new run is created instead
        return False


def _metric(line: str) -> Any | None:
    from mlflow.entities import Metric

    try:
        m = json.loads(line)
        value = float(m["value"])
        return Metric(str(m["key"]), value, int(m["timestamp"]), int(m.get("step") or 0)) \
            if math.isfinite(value) else None
    except (ValueError, KeyError, TypeError):
        return None


def _target_run(client, record: OfflineRecord, run: dict[str, Any], uri: str,
                state_file: Path) -> tuple[str, dict[str, Any]]:
    """The server run to upload into, and the upload's saved progress. Prefers the run an
    interrupted upload created, then the one the job had already started on this server before
    it lost the connection, then the one tracking.json names there (an earlier upload of this
    run directory, a resume); else a new run."""
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if state.get("tracking_uri") != uri:
        state = {}
    if _run_exists(client, state.get("run_id")):
        return state["run_id"], state
    known = [run.get("run_id"), recorded_run_id(record.run_dir, uri)]
    run_id = next((r for r in known if _run_exists(client, r)), None) or client.create_run(
        experiment_id(client, uri, run["experiment"]), start_time=run.get("start_time"),
        run_name=run.get("run_name") or None).info.run_id
    state = {"tracking_uri": uri, "run_id": run_id, "metrics_uploaded": 0}
    _write_json(state_file, state)
    return run_id, state


def _upload_tags_and_params(client, run_id: str, run: dict[str, Any]) -> int:
    """Tags (all), params (those the server lacks: params are immutable in MLflow, so the ones
    the job sent before going offline stay as they are); returns the params sent."""
    from mlflow.entities import Param, RunTag

    tags = [RunTag(k, str(v)) for k, v in run["tags"].items()]
    for i in range(0, len(tags), MAX_PARAMS_OR_TAGS_PER_BATCH):
        client.log_batch(run_id, tags=tags[i : i + MAX_PARAMS_OR_TAGS_PER_BATCH])
    existing = client.get_run(run_id).data.params
    params = [Param(k, str(v)) for k, v in run["params"].items() if k not in existing]
    for i in range(0, len(params), MAX_PARAMS_OR_TAGS_PER_BATCH):
        client.log_batch(run_id, params=params[i : i + MAX_PARAMS_OR_TAGS_PER_BATCH])
    return len(params)


def _upload_metrics(client, run_id: str, record: OfflineRecord, state: dict[str, Any],
                    state_file: Path, notes: list[str]) -> int:
    """The metric lines not sent yet, in batches, saving the offset after each; again until
    nothing new (a job still running may append meanwhile). Offsets count lines, not metrics:
    a broken line (job killed mid-write) still takes its place. Returns the metrics sent."""
    done = int(state.get("metrics_uploaded", 0))
    sent = skipped = 0
    while True:
        lines = record.metric_lines()
        if done >= len(lines):
            break
        for i in range(done, len(lines), MAX_METRICS_PER_BATCH):
            chunk = lines[i : i + MAX_METRICS_PER_BATCH]
            metrics = [m for m in map(_metric, chunk) if m is not None]
            skipped += len(chunk) - len(metrics)
            if metrics:
                client.log_batch(run_id, metrics=metrics)
            done = i + len(chunk)
            sent += len(metrics)
            state["metrics_uploaded"] = done
            _write_json(state_file, state)
    if skipped:
        notes.append(f"{skipped} unreadable metric lines skipped")
    return sent


def _upload_artifacts(client, run_id: str, record: OfflineRecord, notes: list[str]) -> int:
    """Every recorded artifact still on disk (files and folders); returns how many."""
    sent, missing = 0, []
    for entry in record.artifacts():
        path, artifact_path = record.artifact_file(entry), entry.get("artifact_path")
        if path.is_dir():
            sub = PurePosixPath(artifact_path, path.name) if artifact_path else path.name
            client.log_artifacts(run_id, str(path), str(sub))
        elif path.is_file():
            client.log_artifact(run_id, str(path), artifact_path)
        else:
            missing.append(str(path))
            continue
        sent += 1
    if missing:
        notes.append(f"missing artifacts not uploaded: {', '.join(missing)}")
    return sent


def _upload(record: OfflineRecord, run: dict[str, Any], uri: str) -> UploadResult:
    """Send one record to ``uri`` in phases (run, tags and params, metrics, artifacts, status),
    each resumable: an interrupted upload continues where it stopped."""
    from socio_re.tracking.store import open_client

    client = open_client(uri)  # a local store created or repaired first, under its lock
    experiment = run["experiment"]
    state_file = record.dir / SYNC_STATE_FILE
    run_id, state = _target_run(client, record, run, uri, state_file)
    result = UploadResult(record.run_dir, run_id, experiment, uri)
    result.params = _upload_tags_and_params(client, run_id, run)
    result.metrics = _upload_metrics(client, run_id, record, state, state_file, result.notes)
    result.artifacts = _upload_artifacts(client, run_id, record, result.notes)

    status = run.get("status") or "RUNNING"
    if status == "RUNNING":
        result.notes.append("status RUNNING: the job is still running or was killed; a "
                            "resumed job, or this command after the job ends, completes it")
    else:
        client.set_terminated(run_id, status=status, end_time=run.get("end_time"))

    # A resumed job continues this run, and the record is moved aside so that a second upload
    # sends nothing twice.
    write_run_id_file(record.run_dir, run_id, uri, experiment)
    _write_json(record.dir / UPLOADED_FILE,
                {"run_id": run_id, "tracking_uri": uri, "experiment": experiment,
                 "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "metrics": int(state.get("metrics_uploaded", 0))})
    os.replace(record.dir, _free_uploaded_name(record.run_dir))
    log.info("uploaded %s to MLflow run %s at %s", record.dir, run_id, uri)
    return result
