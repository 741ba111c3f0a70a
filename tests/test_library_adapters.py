"""The adapters around private names of submitit, hydra-submitit-launcher, Hydra's JobReturn
(socio_re/sweeps/submitit_adapter.py) and MLflow's SQL store (socio_re/tracking/mlflow_adapter.py).

Each private name is first checked on the installed version (it exists, with the shape the
adapter relies on), so that an upgrade that renames it fails here naming it and the adapter to
update, not somewhere inside a sweep; then the adapter runs on real objects of the library."""

from __future__ import annotations

import inspect
import sqlite3
from importlib.metadata import version
from pathlib import Path

import pytest

from socio_re.sweeps import submitit_adapter
from socio_re.tracking import mlflow_adapter

SUBMITIT_ADAPTER = "socio_re/sweeps/submitit_adapter.py"
MLFLOW_ADAPTER = "socio_re/tracking/mlflow_adapter.py"


def require(owner, name: str, package: str, adapter: str):
    """``owner.name``, or a failure naming it, the installed version and the adapter to fix."""
    where = getattr(owner, "__name__", type(owner).__name__)
    assert hasattr(owner, name), (
        f"{package} {version(package)} has no {where}.{name}: the private name "
        f"{adapter} relies on changed; update the adapter (and the bound in pyproject.toml)")
    return getattr(owner, name)


def require_params(function, expected: list[str], package: str, adapter: str) -> None:
    params = [p for p in inspect.signature(function).parameters if p != "self"]
    assert params[:len(expected)] == expected, (
        f"{package} {version(package)}: {function.__qualname__}{inspect.signature(function)} no "
        f"longer takes ({', '.join(expected)}) first; update {adapter}")


# --- hydra-submitit-launcher and Hydra's JobReturn ---------------------------------------------


def test_executor_kind_reads_the_launcher_classes_executor():
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

    from hydra_plugins.socio_re_launcher.launcher import LocalSweepLauncher, SlurmSweepLauncher

    kind = require(BaseSubmititLauncher, "_EXECUTOR", "hydra-submitit-launcher",
                   SUBMITIT_ADAPTER)
    assert isinstance(kind, str)
    assert submitit_adapter.executor_kind(LocalSweepLauncher) == "local"
    assert submitit_adapter.executor_kind(SlurmSweepLauncher) == "slurm"


def _failed_job_return():
    """What Hydra's run_job returns for a task that raised (run inside a submitit job)."""
    from hydra.core.utils import JobReturn, JobStatus

    return JobReturn(status=JobStatus.FAILED, _return_value=ValueError("boom"))


def test_returned_exception_of_a_real_submitit_jobs_failed_return(tmp_path):
    import dataclasses

    import submitit
    from hydra.core.utils import JobReturn

    fields = {f.name for f in dataclasses.fields(JobReturn)}
    assert "_return_value" in fields, (
        f"hydra-core {version('hydra-core')}: JobReturn has no _return_value field (fields "
        f"{sorted(fields)}); update {SUBMITIT_ADAPTER}")
    job = submitit.AutoExecutor(folder=tmp_path, cluster="debug").submit(_failed_job_return)
    ret = job.result()
    exc = submitit_adapter.returned_exception(ret)
    assert isinstance(exc, ValueError) and str(exc) == "boom"
    with pytest.raises(ValueError, match="boom"):  # why the adapter: the public one raises it
        ret.return_value  # noqa: B018


# --- submitit ---------------------------------------------------------------------------------


def test_the_watcher_state_the_adapter_reads_and_writes_exists():
    from submitit.core.core import InfoWatcher

    watcher = InfoWatcher(delay_s=7)
    for name, kind in [("_delay_s", int), ("_registered", set), ("_finished", set),
                       ("_info_dict", dict), ("_output", bytes), ("_last_status_check", float),
                       ("_num_calls", int)]:
        value = require(watcher, name, "submitit", SUBMITIT_ADAPTER)
        assert isinstance(value, kind), f"submitit InfoWatcher.{name} is {type(value).__name__}"
    assert submitit_adapter.watcher_delay_s(watcher) == 7


def test_a_requeued_slurm_job_is_polled_again(tmp_path):
    """A real SlurmJob (built without a cluster: nothing is submitted) on its own watcher:
    the poll that saw it COMPLETED counts it finished; poll_again puts it back in the poll."""
    from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

    class Job(SlurmJob):
        watcher = SlurmInfoWatcher(delay_s=60)  # not the class-wide watcher of this process

    job = Job(folder=tmp_path, job_id="4242_0")
    assert submitit_adapter.unfinished_jobs(job.watcher) == {"4242_0"}
    calls = job.watcher.num_calls
    submitit_adapter.count_poll(job.watcher)
    submitit_adapter.record_poll(job.watcher, {"4242_0": {"JobID": "4242_0",
                                                          "State": "COMPLETED"}}, "out")
    assert job.watcher.num_calls == calls + 1
    assert job.watcher.get_state("4242_0", mode="cache") == "COMPLETED"
    assert submitit_adapter.unfinished_jobs(job.watcher) == set()
    submitit_adapter.poll_again(job)
    assert submitit_adapter.unfinished_jobs(job.watcher) == {"4242_0"}


def test_the_queue_state_watcher_polls_through_the_adapter(tmp_path):
    from submitit.slurm.slurm import SlurmInfoWatcher

    from socio_re.launch.slurm import QueueStateWatcher

    require(SlurmInfoWatcher, "update", "submitit", "socio_re/launch/slurm.py")
    watcher = QueueStateWatcher(delay_s=60)
    watcher.register_job("77_1")
    submitit_adapter.record_poll(watcher, None, None)  # a failed poll changes no state
    assert watcher.get_state("77_1", mode="cache") == "UNKNOWN"
    assert submitit_adapter.unfinished_jobs(watcher) == {"77_1"}
    submitit_adapter.record_poll(watcher, {"77_1": {"JobID": "77_1", "State": "SUSPENDED"}},
                                 "77_1|SUSPENDED|")
    assert submitit_adapter.unfinished_jobs(watcher) == {"77_1"}  # still on the cluster


def test_executors_render_and_convert_through_the_adapter(tmp_path):
    import submitit
    from submitit.core.core import Executor
    from submitit.slurm.slurm import SlurmExecutor

    from socio_re.launch.slurm import _render_only_executor

    require(Executor, "_convert_parameters", "submitit", SUBMITIT_ADAPTER)
    render = require(SlurmExecutor, "_make_submission_file_text", "submitit", SUBMITIT_ADAPTER)
    require_params(render, ["command", "uid"], "submitit", SUBMITIT_ADAPTER)
    require(SlurmExecutor, "_submitit_command_str", "submitit", SUBMITIT_ADAPTER)

    auto = submitit.AutoExecutor(folder=tmp_path, cluster="local")
    require(auto, "_executor", "submitit", SUBMITIT_ADAPTER)
    assert isinstance(submitit_adapter.slurm_executor(auto), submitit.LocalExecutor)

    slurm = _render_only_executor(str(tmp_path / "%j"), 3)
    assert submitit_adapter.slurm_executor(slurm) is slurm
    converted = submitit_adapter.convert_parameters(slurm, {"timeout_min": 30, "mem_gb": 4})
    assert converted == {"time": 30, "mem": "4GB"}
    slurm.update_parameters(**converted)
    script = submitit_adapter.submission_script(slurm, uid="adapter-test")
    assert script.startswith("#!/bin/bash") and "#SBATCH --time=30" in script
    assert "#SBATCH --mem=4GB" in script


def test_node_lists_parse_through_the_adapter():
    import submitit.slurm.slurm as slurm

    require(slurm, "_parse_node_list", "submitit", SUBMITIT_ADAPTER)
    assert submitit_adapter.parse_node_list("gpu[01-02,07],cpu1") == [
        "gpu01", "gpu02", "gpu07", "cpu1"]


# --- MLflow's SQL store -------------------------------------------------------------------------


def test_mlflows_schema_helpers_exist_with_the_expected_shape():
    from mlflow.store.db import utils

    for name in ("_initialize_tables", "_upgrade_db"):
        function = require(utils, name, "mlflow", MLFLOW_ADAPTER)
        require_params(function, ["engine"], "mlflow", MLFLOW_ADAPTER)
    require(utils, "_get_latest_schema_revision", "mlflow", MLFLOW_ADAPTER)
    require(utils, "create_sqlalchemy_engine_with_retry", "mlflow", MLFLOW_ADAPTER)
    assert utils.__name__ == mlflow_adapter.DB_UTILS


def _revision(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_a_new_sqlite_store_is_created_at_the_latest_revision(tmp_path):
    from socio_re.tracking.store import expected_tables, read_schema

    db = tmp_path / "mlflow.db"
    engine = mlflow_adapter.sqlite_engine(f"sqlite:///{db}")
    try:
        mlflow_adapter.create_missing_tables(engine)
    finally:
        engine.dispose()
    head = mlflow_adapter.latest_schema_revision()
    assert isinstance(head, str) and _revision(db) == head
    assert not expected_tables() - read_schema(db).tables


def test_an_older_sqlite_store_is_upgraded_to_the_latest_revision(tmp_path):
    """A store at the revision before MLflow's newest one (built as an older MLflow left it)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    config = _get_alembic_config(uri)
    head = next(ScriptDirectory.from_config(config).walk_revisions())
    assert head.revision == mlflow_adapter.latest_schema_revision()
    engine = mlflow_adapter.sqlite_engine(uri)
    try:
        InitialBase.metadata.create_all(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, head.down_revision)
        assert _revision(db) == head.down_revision
        mlflow_adapter.upgrade_schema(engine)
    finally:
        engine.dispose()
    assert _revision(db) == head.revision
