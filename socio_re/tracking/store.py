"""One way to reach an MLflow store, for every caller (the job's tracker, the sweep's parent
run, the Hydra callback that prepares the store, the upload of offline records): bounded HTTP
retries, a quick probe of http(s) servers, the experiment id (created if missing), and the
run-directory file that remembers a job's run.

``connect`` returns a :class:`Store` or the reason the server cannot be used now.

A local sqlite store (the default ``./mlflow.db``) is made ready before any client touches it
(:func:`prepare_store`): MLflow creates and migrates its schema on first use with no lock between
processes, so several runs starting together on a new store used to break it halfway (leftover
``_alembic_tmp_*`` tables, a schema stuck between revisions) and all fall back to offline. Here
the creation, the upgrade and the repair of such a broken store run under a file lock next to the
database (``mlflow.db.lock``); a store already at MLflow's schema is only read (no lock), so
normal runs do not wait on each other.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socio_re.tracking.mlflow_adapter as mlflow_adapter
from socio_re.errors import UserError

log = logging.getLogger(__name__)

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


# --- a local sqlite store: created, upgraded and repaired under a file lock --------------------

# Creating a store takes seconds and upgrading a large one minutes; a lock held longer than this
# belongs to a process that hangs (a dead one releases it: the OS drops its lock).
STORE_LOCK_TIMEOUT_S = 900.0
# What alembic's batch migrations on sqlite build beside a table (then rename into its place);
# one left over is a migration that stopped halfway, and makes every later upgrade fail.
TMP_TABLE_PREFIX = "_alembic_tmp_"


class BrokenStore(UserError):
    """A local MLflow store that cannot be created, repaired or upgraded; the message names the
    database file and the fix."""


class StoreBusy(TimeoutError):
    """Another process held the store's lock for longer than :data:`STORE_LOCK_TIMEOUT_S`."""


def sqlite_file(uri: str) -> Path | None:
    """The database file of a local sqlite store URI (``sqlite:///mlflow.db`` is relative to the
    working directory), else None (a server, another database, an in-memory store)."""
    if not uri.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    try:
        database = make_url(uri).database
    except Exception:  # not a URL sqlalchemy reads: MLflow will say why
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def lock_file(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@functools.lru_cache(maxsize=1)
def schema_head() -> str:
    """The schema revision this MLflow version creates and expects."""
    return mlflow_adapter.latest_schema_revision()


@functools.lru_cache(maxsize=1)
def expected_tables() -> frozenset[str]:
    """Every table MLflow's models define (importing mlflow.store.db.utils registers them all)."""
    import mlflow.store.db.utils  # noqa: F401
    from mlflow.store.db.base_sql_model import Base

    return frozenset(Base.metadata.tables)


@dataclass
class SchemaState:
    """What a sqlite store holds, read with sqlite3 alone (no SQLAlchemy engine, no lock)."""

    revision: str | None = None
    tables: set[str] = field(default_factory=set)
    runs: int = 0

    @property
    def empty(self) -> bool:  # alembic's own bookkeeping from a failed first attempt aside
        return all(t.startswith("alembic_") for t in self.tables)

    @property
    def leftovers(self) -> list[str]:
        return sorted(t for t in self.tables if t.startswith(TMP_TABLE_PREFIX))

    def missing(self) -> set[str]:
        return set(expected_tables()) - self.tables

    def ready(self) -> bool:
        return (not self.leftovers and self.revision == schema_head()
                and not self.missing())

    def describe(self) -> str:
        parts = [f"schema {self.revision or 'unversioned'} (MLflow expects {schema_head()})"]
        if self.leftovers:
            parts.append("leftover " + ", ".join(self.leftovers))
        missing = sorted(self.missing())
        if missing:
            parts.append(f"{len(missing)} tables missing ({', '.join(missing[:3])}"
                         + (", ...)" if len(missing) > 3 else ")"))
        return "; ".join(parts)


def _move_aside(db: Path) -> str:
    return (f"fix: move it aside (mv {db} {db}.broken) and run again to start a new store "
            "(the old file stays readable with the MLflow version that wrote it)")


def read_schema(db: Path) -> SchemaState:
    """The store's schema revision and tables (empty for a file that does not exist yet).
    Raises :class:`BrokenStore` for a file that is not a sqlite database; "database is locked"
    (a writer that did not finish in time) is raised as it is."""
    if not db.is_file() or db.stat().st_size == 0:
        return SchemaState()
    try:
        con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in tables else None
            runs = con.execute("SELECT count(*) FROM runs").fetchone()[0] \
                if "runs" in tables else 0
        finally:
            con.close()
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:  # "file is not a database", a damaged file
        raise BrokenStore(f"MLflow store {db} cannot be read ({one_line(exc)}); "
                          f"{_move_aside(db)}") from exc
    return SchemaState(revision[0] if revision else None, tables, int(runs))


@contextlib.contextmanager
def store_lock(db: Path, timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock on the store ``db`` (``<db>.lock`` beside it), shared by every process on
    this machine and on a shared file system with working locks."""
    from filelock import FileLock, Timeout

    db.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file(db)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting for another process that is creating or upgrading the MLflow store %s",
                 db)
        wait = STORE_LOCK_TIMEOUT_S if timeout is None else timeout
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise StoreBusy(f"{lock_file(db)} held by another process for over {wait:.0f} s "
                            "(creating or upgrading the store)") from None
    try:
        yield
    finally:
        lock.release()


def prepare_store(uri: str) -> None:
    """Make a local sqlite store ready for MLflow clients: created if new, brought to MLflow's
    schema if older, repaired if a schema upgrade stopped halfway. Anything to change is changed
    under :func:`store_lock`; a store that is ready is only read. Other URIs are left alone.

    Raises :class:`BrokenStore` (one line: the file and the fix) when the store cannot be
    repaired, :class:`StoreBusy` when the lock is not freed in time."""
    db = sqlite_file(uri)
    if db is None:
        return
    try:
        if read_schema(db).ready():
            return
    except sqlite3.OperationalError:  # a writer busy for long: look again under the lock
        pass
    with store_lock(db):
        state = read_schema(db)  # another process may have done it while this one waited
        if not state.ready():
            with _quiet(mlflow_adapter.DB_UTILS):  # "Updating database tables": ours say more
                _make_ready(uri, db, state)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _make_ready(uri: str, db: Path, state: SchemaState) -> None:
    """Create, repair or upgrade the store; the caller holds the lock."""
    import mlflow

    orphans = [t for t in state.leftovers if t.removeprefix(TMP_TABLE_PREFIX) not in state.tables]
    if orphans:  # the only copy of that table's rows: not ours to drop
        raise BrokenStore(
            f"MLflow store {db} was left half-migrated: {', '.join(orphans)} stands in for the "
            f"missing table(s) {', '.join(t.removeprefix(TMP_TABLE_PREFIX) for t in orphans)}; "
            f"{_move_aside(db)}")
    if not state.empty and state.revision != schema_head():
        log.info("MLflow store %s: %s; upgrading it", db, state.describe())
    backup = engine = None
    try:
        if state.runs and state.revision != schema_head():
            backup = _backup(db, state)
        if state.leftovers or (state.empty and state.tables):
            engine = mlflow_adapter.sqlite_engine(uri)
            with engine.begin() as conn:
                # Safe only under the lock: no other process is migrating (the tables it
                # stands for are still there, checked above).
                for table in state.leftovers + (sorted(state.tables) if state.empty else []):
                    conn.exec_driver_sql(f'DROP TABLE "{table}"')
            if state.leftovers:
                log.warning("MLflow store %s: dropped %s, left by a schema upgrade that stopped "
                            "halfway; finishing the upgrade", db, ", ".join(state.leftovers))
        if not state.empty and (state.revision != schema_head() or state.missing()):
            engine = engine or mlflow_adapter.sqlite_engine(uri)
            if state.missing():
                mlflow_adapter.create_missing_tables(engine)
            else:
                mlflow_adapter.upgrade_schema(engine)
        # A new store is created here, as MLflow creates it, with its default experiment.
        mlflow.MlflowClient(uri)
    except sqlite3.OperationalError:
        raise
    except Exception as exc:
        if "database is locked" in str(exc):
            raise
        kept = f"; a copy from before this attempt is {backup}" if backup else ""
        cause = getattr(exc, "orig", None) or exc  # sqlite's words, not SQLAlchemy's SQL dump
        raise BrokenStore(
            f"MLflow store {db} could not be repaired or upgraded ({state.describe()}): "
            f"{type(cause).__name__}: {one_line(cause)}{kept}; {_move_aside(db)}") from exc
    finally:
        if engine is not None:
            engine.dispose()
    after = read_schema(db)
    if not after.ready():
        raise BrokenStore(f"MLflow store {db} is still not at MLflow's schema after an upgrade "
                          f"({after.describe()}); {_move_aside(db)}")


def _backup(db: Path, state: SchemaState) -> Path:
    """A copy of a store that holds runs, taken before its schema is changed (kept if one from
    an earlier attempt is there: that one is older)."""
    target = db.with_name(f"{db.name}.before-{state.revision or 'unversioned'}")
    if not target.exists():
        src, dst = sqlite3.connect(db), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        log.warning("MLflow store %s: copy kept as %s before upgrading its schema", db, target)
    return target


@dataclass
class Store:
    """A client on ``uri`` and, when one was asked for, the experiment's id."""

    client: Any
    uri: str
    experiment_id: str | None = None


def open_client(uri: str):
    """An ``MlflowClient`` on ``uri``, a local sqlite store made ready first
    (:func:`prepare_store`). Every MLflow client of this package is made here."""
    import mlflow

    bound_http_retries()
    prepare_store(uri)
    return mlflow.MlflowClient(uri)


def connect(uri: str, experiment: str | None = None) -> Store | str:
    """A :class:`Store` for ``uri`` (its experiment created if missing), or why not: the probe's
    reason for an unreachable server, or the first line of the error the client raised.

    A local store broken beyond repair raises :class:`BrokenStore` instead: tracking data kept
    offline could not be uploaded into it either."""
    bound_http_retries()
    reason = unreachable_reason(uri)
    if reason:
        return reason
    try:
        client = open_client(uri)
        exp_id = experiment_id(client, uri, experiment) if experiment else None
    except BrokenStore:
        raise
    except Exception as exc:  # a store that answers but refuses: the caller decides
        return one_line(exc)
    return Store(client, uri, exp_id)
