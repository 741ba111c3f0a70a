"""Tracking survives an MLflow server that cannot be reached (at start or mid-run): the data is
kept in the run directory and ``python -m socio_re.cli.sync_tracking`` uploads it later.

No training here: the tracker is driven directly, and uploads go into local sqlite stores.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from socio_re.cli.sync_tracking import main as sync_main
from socio_re.config.schema import TrackingConfig
from socio_re.tracking import make_tracker
from socio_re.tracking.offline import (
    HTTP_RETRY_DEFAULTS,
    OFFLINE_DIR,
    UPLOADED_DIR,
    bound_http_retries,
)

EXPERIMENT = "offline-test"
TAGS = {"task": "socrates", "model": "tiny-causal"}
PARAMS = {"trainer.learning_rate": "0.001", "model.name": "tiny-causal"}
LOSSES = {1: 2.0, 2: 1.5, 3: 1.25}
TRACKER_LOG = "socio_re.tracking.tracker"


@pytest.fixture(autouse=True)
def _http_env(monkeypatch):
    # The tracker sets these with setdefault; monkeypatch undoes it after each test.
    for name, value in HTTP_RETRY_DEFAULTS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def dead_uri() -> str:
    """An http URI on a local port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    (path / "config.yaml").write_text("seed: 42\n")
    return path


def tracker_for(uri: str, run_dir: Path):
    return make_tracker(TrackingConfig(tracking_uri=uri), experiment=EXPERIMENT, run_name="r1",
                        run_dir=run_dir)


def log_a_run(tracker, run_dir: Path, steps=LOSSES, status: str = "FINISHED") -> None:
    """What run.execute and the Trainer callback send: tags, params, config, step curves, final
    metrics and artifacts, the final status."""
    tracker.set_tags(TAGS)
    tracker.log_params(PARAMS)
    tracker.log_artifact(run_dir / "config.yaml")
    for step, loss in steps.items():
        tracker.log_metrics({"train/loss": loss, "train/nan": float("nan")}, step=step)
    (run_dir / "metrics.json").write_text('{"test/acc": 0.5}\n')
    tracker.log_artifact(run_dir / "metrics.json")
    tracker.finish(status)


def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def read_back(uri: str, run_id: str):
    import mlflow

    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    history = client.get_metric_history(run_id, "train/loss")
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    return run, sorted((m.step, m.value) for m in history), artifacts


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == TRACKER_LOG and r.levelno == logging.WARNING]


def test_http_retries_are_bounded_unless_the_user_set_them(monkeypatch):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    bound_http_retries()
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 2
    assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 30


def test_unreachable_server_keeps_everything_in_the_run_dir(run_dir, dead_uri, caplog):
    caplog.set_level(logging.WARNING, logger=TRACKER_LOG)
    tracker = tracker_for(dead_uri, run_dir)
    log_a_run(tracker, run_dir)

    (warning,) = warnings_of(caplog)
    command = f"python -m socio_re.cli.sync_tracking {run_dir}"
    assert dead_uri in warning and "unreachable" in warning and command in warning
    assert str(run_dir / OFFLINE_DIR) in warning
    assert "unreachable" in tracker.describe() and command in tracker.describe()

    record = run_dir / OFFLINE_DIR
    run = json.loads((record / "run.json").read_text())
    assert run["tracking_uri"] == dead_uri and run["experiment"] == EXPERIMENT
    assert run["run_name"] == "r1" and run["run_id"] is None
    assert run["tags"] == TAGS and run["params"] == PARAMS and run["status"] == "FINISHED"
    lines = [json.loads(line) for line in (record / "metrics.jsonl").read_text().splitlines()]
    assert [(m["key"], m["step"], m["value"]) for m in lines] == \
        [("train/loss", step, loss) for step, loss in LOSSES.items()]  # the NaN is left out
    assert all(isinstance(m["timestamp"], int) for m in lines)
    artifacts = json.loads((record / "artifacts.json").read_text())
    assert artifacts == [{"path": "config.yaml", "artifact_path": None},
                         {"path": "metrics.json", "artifact_path": None}]
    assert not (run_dir / "tracking.json").exists()


def test_sync_uploads_the_record_once(run_dir, dead_uri, tmp_path, capsys):
    log_a_run(tracker_for(dead_uri, run_dir), run_dir)
    store = sqlite_uri(tmp_path)
    sync_main([str(run_dir), "--tracking-uri", store])
    line = capsys.readouterr().out.strip()
    run_id = json.loads((run_dir / "tracking.json").read_text())["run_id"]
    assert f"uploaded to run {run_id} in experiment {EXPERIMENT} at {store}" in line

    run, history, artifacts = read_back(store, run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "r1"
    assert run.data.params == PARAMS
    assert TAGS.items() <= run.data.tags.items()
    assert history == sorted(LOSSES.items())
    assert {"config.yaml", "metrics.json"} <= artifacts
    assert not (run_dir / OFFLINE_DIR).exists() and (run_dir / UPLOADED_DIR).is_dir()

    sync_main([str(run_dir), "--tracking-uri", store])
    assert "nothing to upload" in capsys.readouterr().out
    assert read_back(store, run_id)[1] == history  # no duplicated metric history


def test_mid_run_failure_goes_offline_and_sync_completes_the_same_run(run_dir, tmp_path,
                                                                     caplog):
    from mlflow.exceptions import MlflowException

    caplog.set_level(logging.WARNING, logger=TRACKER_LOG)
    store = sqlite_uri(tmp_path)
    tracker = tracker_for(store, run_dir)
    tracker.set_tags(TAGS)
    tracker.log_params(PARAMS)
    tracker.log_metrics({"train/loss": LOSSES[1]}, step=1)
    assert not warnings_of(caplog) and not (run_dir / OFFLINE_DIR).exists()

    calls = []

    def broken(*args, **kwargs):
        calls.append(kwargs)
        raise MlflowException("database is locked")

    tracker._client.log_batch = broken
    tracker.log_metrics({"train/loss": LOSSES[2]}, step=2)
    tracker.log_metrics({"train/loss": LOSSES[3]}, step=3)
    tracker.set_tags({"late": "1"})
    tracker.log_artifact(run_dir / "config.yaml")
    tracker.finish("FINISHED")
    assert len(calls) == 1  # offline for good after the first failure, no more waiting on it
    (warning,) = warnings_of(caplog)
    assert "database is locked" in warning and "sync_tracking" in warning

    record = json.loads((run_dir / OFFLINE_DIR / "run.json").read_text())
    assert record["run_id"] == tracker.run_id and record["tags"] == {"late": "1"}
    assert record["params"] == {} and record["status"] == "FINISHED"

    sync_main([str(run_dir)])  # to the store the record was meant for
    run, history, artifacts = read_back(store, tracker.run_id)
    assert history == sorted(LOSSES.items())
    assert run.info.status == "FINISHED" and run.data.tags["late"] == "1"
    assert run.data.params == PARAMS and "config.yaml" in artifacts
    assert json.loads((run_dir / "tracking.json").read_text())["run_id"] == tracker.run_id


def test_resume_appends_offline_then_uploads_once_the_server_is_back(run_dir, dead_uri,
                                                                    tmp_path):
    log_a_run(tracker_for(dead_uri, run_dir), run_dir, {1: LOSSES[1]}, status="KILLED")
    log_a_run(tracker_for(dead_uri, run_dir), run_dir, {2: LOSSES[2]}, status="KILLED")
    record = run_dir / OFFLINE_DIR
    assert len((record / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((record / "run.json").read_text())["attempts"] == 2

    # The third attempt finds the store answering: it uploads the record, then goes on online.
    store = sqlite_uri(tmp_path)
    tracker = tracker_for(store, run_dir)
    assert tracker.run_id == json.loads((run_dir / "tracking.json").read_text())["run_id"]
    assert not record.exists()
    log_a_run(tracker, run_dir, {3: LOSSES[3]})
    assert "unreachable" not in tracker.describe()
    run, history, _ = read_back(store, tracker.run_id)
    assert history == sorted(LOSSES.items()) and run.info.status == "FINISHED"


def test_sync_while_the_job_still_runs_then_again_after(run_dir, dead_uri, tmp_path, capsys):
    tracker = tracker_for(dead_uri, run_dir)
    tracker.log_metrics({"train/loss": LOSSES[1]}, step=1)
    store = sqlite_uri(tmp_path)
    sync_main([str(run_dir), "--tracking-uri", store])
    assert "status RUNNING" in capsys.readouterr().out
    first = json.loads((run_dir / "tracking.json").read_text())["run_id"]

    # Still offline: the job starts a new record, which the next upload adds to the same run.
    tracker.log_metrics({"train/loss": LOSSES[2]}, step=2)
    tracker.finish("FINISHED")
    assert (run_dir / OFFLINE_DIR / "run.json").exists()
    sync_main([str(run_dir), "--tracking-uri", store])
    assert f"uploaded to run {first}" in capsys.readouterr().out
    assert (run_dir / f"{UPLOADED_DIR}.2").is_dir()
    run, history, _ = read_back(store, first)
    assert history == [(1, LOSSES[1]), (2, LOSSES[2])] and run.info.status == "FINISHED"


def test_sync_reports_user_errors_in_one_line(run_dir, dead_uri, capsys):
    with pytest.raises(SystemExit) as exc:
        sync_main([str(run_dir)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no offline MLflow record") and "\n" not in err

    log_a_run(tracker_for(dead_uri, run_dir), run_dir)
    with pytest.raises(SystemExit) as exc:
        sync_main([str(run_dir)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "still unreachable" in err and dead_uri in err and "\n" not in err
    assert (run_dir / OFFLINE_DIR / "run.json").exists()  # kept for the next try


class _HealthyButBroken(BaseHTTPRequestHandler):
    """Answers the health probe, fails every API call (a server with a broken backend)."""

    def do_GET(self):
        ok = self.path == "/health"
        self.send_response(200 if ok else 500)
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"backend store unavailable")

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_server_that_answers_the_probe_but_fails_goes_offline(run_dir, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    caplog.set_level(logging.WARNING, logger=TRACKER_LOG)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthyButBroken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        tracker = tracker_for(uri, run_dir)
        log_a_run(tracker, run_dir)
    finally:
        server.shutdown()
        server.server_close()
    assert len(warnings_of(caplog)) == 1
    run = json.loads((run_dir / OFFLINE_DIR / "run.json").read_text())
    assert run["tracking_uri"] == uri and run["params"] == PARAMS
