"""A local MLflow store that no race can break (socio_re.tracking.store.prepare_store).

Five runs started together on a new sqlite store used to race in MLflow's schema migration:
all went offline, ``_alembic_tmp_*`` tables were left, and ``sync_tracking`` into that store
failed until repaired by hand. Now the store is created, upgraded and repaired under a file
lock; a store already broken that way is repaired by the next run or upload, and one that
cannot be is reported in one line (the file and the fix), exit 2.

The in-process tests build broken stores by hand (no training); the ``slow`` ones run
``train.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_train

from socio_re.cli.sync_tracking import main as sync_main
from socio_re.config.schema import TrackingConfig
from socio_re.errors import ReportedExit
from socio_re.tracking import make_tracker, store
from socio_re.tracking.offline import OFFLINE_DIR, OfflineRecord
from socio_re.tracking.store import (
    BrokenStore,
    connect,
    lock_file,
    open_client,
    prepare_store,
    read_schema,
    sqlite_file,
)

# The cheapest real run: one step, four scored rows, no base-model row.
CHEAP_RUN = ["debug=smoke", "trainer.max_steps=1", "task.eval.max_rows=4",
             "task.eval.compare_base=false"]
RUNS_AT_ONCE = 5


def uri_of(db: Path) -> str:
    return f"sqlite:///{db}"


def tmp_tables(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '\\_alembic\\_tmp\\_%' ESCAPE '\\'")]


def half_migrated_store(db: Path) -> str:
    """A store as the race left it: its schema at the revision before the migration that
    rebuilds ``params`` (alembic's batch mode on sqlite: build ``_alembic_tmp_params``, copy,
    drop, rename), and the ``_alembic_tmp_params`` that migration left when it stopped halfway.
    Returns the revision it is at."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config, create_sqlalchemy_engine
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    uri = uri_of(db)
    config = _get_alembic_config(uri)
    rebuilds_params = next(
        s for s in ScriptDirectory.from_config(config).walk_revisions()  # newest first
        if 'batch_alter_table("params"' in Path(s.path).read_text())
    engine = create_sqlalchemy_engine(uri)
    try:
        InitialBase.metadata.create_all(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, rebuilds_params.down_revision)
    finally:
        engine.dispose()
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE _alembic_tmp_params AS SELECT * FROM params")
    return rebuilds_params.down_revision


def offline_record(run_dir: Path, uri: str) -> None:
    """What a run that could not reach ``uri`` kept, for sync_tracking to upload."""
    run_dir.mkdir(parents=True)
    record = OfflineRecord.open(run_dir, tracking_uri=uri, experiment="race", run_name="r1",
                                run_id=None)
    record.add_params({"seed": "42"})
    record.add_metrics([("train/loss", 1.5, 1000, 1)])
    record.finish("FINISHED")


def sync_reporting(capsys, run_dir: Path) -> tuple[int, str]:
    """(exit code, stderr) of ``python -m socio_re.cli.sync_tracking RUN_DIR``, in-process."""
    capsys.readouterr()  # what the test printed before
    try:
        sync_main([str(run_dir)])
        code = 0
    except ReportedExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# --- in-process: the store's states -----------------------------------------------------------


def test_sqlite_file_names_the_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_file(f"sqlite:///{tmp_path}/a/mlflow.db") == tmp_path / "a" / "mlflow.db"
    assert sqlite_file("sqlite:///mlflow.db") == tmp_path / "mlflow.db"  # relative to the cwd
    for other in ("sqlite://", "sqlite:///:memory:", "http://localhost:5000",
                  "postgresql://u@h/db", "file:///tmp/mlruns"):
        assert sqlite_file(other) is None


def test_a_new_store_is_created_ready_under_its_lock(tmp_path):
    db = tmp_path / "sub" / "mlflow.db"
    client = open_client(uri_of(db))
    assert read_schema(db).ready()
    assert lock_file(db).exists()
    assert client.get_experiment("0") is not None  # MLflow's default experiment, made once


def test_a_ready_store_is_only_read(tmp_path, monkeypatch):
    """Normal runs do not wait on each other: with the store ready, the lock is not taken
    (another process holds it here; a run that waited on it would raise StoreBusy)."""
    from filelock import FileLock

    db = tmp_path / "mlflow.db"
    prepare_store(uri_of(db))
    monkeypatch.setattr(store, "STORE_LOCK_TIMEOUT_S", 0.2)
    with FileLock(str(lock_file(db))):
        prepare_store(uri_of(db))
        assert not isinstance(connect(uri_of(db), "race"), str)


def test_a_lock_held_too_long_is_a_reason_to_go_offline(tmp_path, monkeypatch):
    from filelock import FileLock

    db = tmp_path / "mlflow.db"
    monkeypatch.setattr(store, "STORE_LOCK_TIMEOUT_S", 0.2)
    with FileLock(str(lock_file(db))):  # another process creating the store, and hanging
        reason = connect(uri_of(db), "race")
    assert isinstance(reason, str) and str(lock_file(db)) in reason, reason


def test_a_store_broken_by_the_race_is_repaired_by_sync_tracking(tmp_path, capsys):
    import mlflow

    db = tmp_path / "mlflow.db"
    old = half_migrated_store(db)
    # What plain MLflow makes of it (the failure before this fix), on a copy.
    copy = tmp_path / "copy" / "mlflow.db"
    copy.parent.mkdir()
    shutil.copy(db, copy)
    with pytest.raises(Exception, match="_alembic_tmp_params already exists"):
        mlflow.MlflowClient(uri_of(copy))

    offline_record(tmp_path / "run", uri_of(db))
    code, err = sync_reporting(capsys, tmp_path / "run")
    assert code == 0, err
    state = read_schema(db)
    assert state.ready() and state.revision != old
    assert tmp_tables(db) == []
    client = mlflow.MlflowClient(uri_of(db))
    (run,) = client.search_runs([client.get_experiment_by_name("race").experiment_id])
    assert run.data.params == {"seed": "42"} and run.info.status == "FINISHED"


def test_a_store_that_cannot_be_upgraded_is_one_line_naming_it_and_the_fix(tmp_path, capsys):
    """A store whose recorded revision lies (stamped older than its tables): the upgrade cannot
    replay migrations already applied. One line, exit 2, a copy kept (it holds a run)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    db = tmp_path / "mlflow.db"
    client = open_client(uri_of(db))
    client.create_run(client.create_experiment("race"))
    head = next(ScriptDirectory.from_config(_get_alembic_config("")).walk_revisions())
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = ?", (head.down_revision,))
    offline_record(tmp_path / "run", uri_of(db))

    code, err = sync_reporting(capsys, tmp_path / "run")
    if code == 0:  # an MLflow whose newest migration can be replayed: repaired, also fine
        assert read_schema(db).ready(), err
        return
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: MLflow store {db} could not be repaired or upgraded")
    assert f"mv {db} {db}.broken" in line and "Traceback" not in err
    assert Path(f"{db}.before-{head.down_revision}").is_file()
    assert (tmp_path / "run" / OFFLINE_DIR).is_dir()  # the record is kept for a later upload


def test_a_leftover_that_holds_the_only_copy_of_a_table_is_kept_and_reported(tmp_path):
    """``_alembic_tmp_runs`` with no ``runs`` beside it: dropping it would lose the runs."""
    db = tmp_path / "mlflow.db"
    open_client(uri_of(db))
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE runs RENAME TO _alembic_tmp_runs")
    with pytest.raises(BrokenStore, match=r"half-migrated: _alembic_tmp_runs stands in for the "
                                          r"missing table\(s\) runs; fix: move it aside"):
        connect(uri_of(db), "race")
    # A run stops with that line (exit 2) instead of training with its data kept offline.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(BrokenStore):
        make_tracker(TrackingConfig(tracking_uri=uri_of(db)), experiment="race",
                     run_name="r1", run_dir=run_dir)
    assert tmp_tables(db) == ["_alembic_tmp_runs"]


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_text("not a database\n" * 100)
    with pytest.raises(BrokenStore, match=f"MLflow store {db} cannot be read .*mv {db}"):
        connect(uri_of(db), "race")


# --- real runs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repaired_by_a_run(tmp_path_factory, cache_dir):
    """One run on a store the race left broken. It also builds the tiny model and data cache,
    so that the runs started together below race on the store, not on the cache."""
    work = tmp_path_factory.mktemp("repair")
    db = work / "mlflow.db"
    half_migrated_store(db)
    out = run_train([*CHEAP_RUN, f"hydra.run.dir={work / 'run'}"], work, env={
        "SOCIO_RE_CACHE_DIR": str(cache_dir), "MLFLOW_TRACKING_URI": uri_of(db),
        "OMP_NUM_THREADS": "1"})
    return {"out": out, "db": db, "run_dir": work / "run"}


def tracked_online(run_dir: Path, uri: str) -> bool:
    """The run went to the store (tracking.json names it there), not to an offline record."""
    info = json.loads((run_dir / "tracking.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    return (info["tracking_uri"] == uri and not (run_dir / OFFLINE_DIR).exists()
            and summary["tracking"].startswith("MLflow run "))


@pytest.mark.slow
def test_a_store_broken_by_the_race_is_repaired_by_the_next_run(repaired_by_a_run):
    out, db = repaired_by_a_run["out"], repaired_by_a_run["db"]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "dropped _alembic_tmp_params, left by a schema upgrade that stopped halfway" in \
        out.stdout + out.stderr
    assert read_schema(db).ready() and tmp_tables(db) == []
    assert tracked_online(repaired_by_a_run["run_dir"], uri_of(db))


@pytest.mark.slow
def test_runs_started_together_on_a_new_store_all_track_online(tmp_path, repaired_by_a_run):
    import mlflow

    db = tmp_path / "mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri_of(db), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *CHEAP_RUN, f"hydra.run.dir={tmp_path}/run{i}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(RUNS_AT_ONCE)]
    # Only against a hang: loaded machines are several times slower than quiet ones.
    outputs = [p.communicate(timeout=3600)[0] for p in procs]
    for p, output in zip(procs, outputs, strict=True):
        assert p.returncode == 0, output[-3000:]
        assert "unreachable" not in output, output[-3000:]
    for i in range(RUNS_AT_ONCE):
        assert tracked_online(tmp_path / f"run{i}", uri_of(db))
    assert tmp_tables(db) == [] and read_schema(db).ready()
    client = mlflow.MlflowClient(uri_of(db))
    runs = client.search_runs([client.get_experiment_by_name("socrates").experiment_id])
    assert len(runs) == RUNS_AT_ONCE and {r.info.status for r in runs} == {"FINISHED"}
