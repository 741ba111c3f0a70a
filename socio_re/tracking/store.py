"""One way to reach an MLflow store, for every caller (the job's tracker, the sweep's parent
run, the Hydra callback that prepares the store, the upload of offline records): bounded HTTP
retries, a quick probe of http(s) servers, the experiment id (created if missing), and the
run-directory file that remembers a job's run.

``connect`` returns a :class:`Store` or the reason the server cannot be used now.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# <run_dir>/tracking.json: the job's MLflow run id, tracking URI and experiment.
RUN_ID_FILE = "tracking.json"
# A live MLflow server answers /health within milliseconds; a few seconds covers a slow network
# without holding up the start of a job for long when nothing answers.
PROBE_TIMEOUT_S = 3.0
# MLflow's defaults (7 retries with exponential backoff, 120 s timeout) stall a job for minutes
# per call when the server is gone. Read at every request (mlflow.utils.rest_utils), so setting
# them before the first call is enough; a user's own values win.
HTTP_RETRY_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}

def bound_http_retries() -> None:
    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def server_label(uri: str) -> str:
    return f"MLflow server {uri}" if is_remote(uri) else f"MLflow store {uri}"


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def unreachable_reason(uri: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why an http(s) tracking server cannot be used now, or None (reachable, or not a server:
    local stores are not probed)."""
    if not is_remote(uri):
        return None
    import ssl
    import urllib.error
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(64)
        return None
    except urllib.error.HTTPError as exc:
        # Something answered. A 4xx (authentication, a proxy without /health) leaves the verdict
        # to the MLflow client; a 5xx is a proxy in front of a server that is down.
        return f"HTTP {exc.code} from {url}" if exc.code >= 500 else None
    except OSError as exc:  # URLError, refused, timed out, unknown host
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError):
            # A TLS setup urllib does not share with MLflow (MLFLOW_TRACKING_INSECURE_TLS, a
            # private CA): the server is there, let the client try.
            return None
        return f"no answer from {url}: {reason}"
    except ValueError:  # a URL urllib cannot parse (credentials in it): cannot tell, try
        return None


def recorded_run_id(run_dir: Path, uri: str) -> str | None:
    """The run id ``tracking.json`` holds for this tracking URI (not checked on the server)."""
    try:
        info = json.loads((run_dir / RUN_ID_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("tracking_uri") != uri:
        return None
    return info.get("run_id") or None


def write_run_id_file(run_dir: Path, run_id: str, uri: str, experiment: str) -> None:
    (run_dir / RUN_ID_FILE).write_text(
        json.dumps({"run_id": run_id, "tracking_uri": uri, "experiment": experiment},
                   indent=1) + "\n")


def artifact_location_for(uri: str, experiment: str) -> str | None:
    """Beside a local sqlite store (not wherever the process runs); the server's choice else."""
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts" / experiment).as_uri()
    return None


def experiment_id(client, uri: str, name: str) -> str:
    """The id of experiment ``name``, created (artifacts beside a sqlite store) if missing.
    Another process creating it at the same moment is fine: we then read its id."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location_for(uri, name))
    except Exception:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def default_tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else a sqlite store in the working directory (what `mlflow ui`
    opens by default when started there)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"



@dataclass
class Store:
    """A client on ``uri`` and, when one was asked for, the experiment's id."""

    client: Any
    uri: str
    experiment_id: str | None = None


def connect(uri: str, experiment: str | None = None) -> Store | str:
    """A :class:`Store` for ``uri`` (its experiment created if missing), or why not: the probe's
    reason for an unreachable server, or the first line of the error the client raised."""
    bound_http_retries()
    reason = unreachable_reason(uri)
    if reason:
        return reason
    try:
        import mlflow

        client = mlflow.MlflowClient(uri)
        exp_id = experiment_id(client, uri, experiment) if experiment else None
    except Exception as exc:  # a store that answers but refuses: the caller decides
        return one_line(exc)
    return Store(client, uri, exp_id)
