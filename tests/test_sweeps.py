"""Sweeps through the submitit local launcher: a 2x2 grid as one MLflow parent with four
children, a re-run that skips finished jobs, and a sweep where jobs fail or are interrupted,
report it, and the re-run redoes only the unfinished work."""

from __future__ import annotations

import json
import statistics

import pytest
from conftest import compose, run_module, run_train

from socio_re.sweeps.naming import job_dir_name, sweep_name

GRID = ["-m", "task=socrates", "debug=smoke", "trainer.learning_rate=1e-3,3e-3",
        "trainer.per_device_train_batch_size=4,8"]


def test_directory_names_follow_the_overrides():
    assert sweep_name(None, ["task=relext", "fold=0,1,2,3,4", "hydra.launcher.x=1"]) == \
        "fold=0,1,2,3,4__task=relext"
    assert sweep_name("my grid", ["fold=0,1"]) == "my_grid"
    assert job_dir_name(["trainer.learning_rate=0.001", "fold=3"]) == \
        "fold=3__trainer.learning_rate=0.001"
    assert job_dir_name(["data.path=/data/x y"]) == "data.path=_data_x_y"
    long = job_dir_name([f"model.name_or_path={'a' * 300}"])
    assert len(long) == 120 and long != job_dir_name([f"model.name_or_path={'a' * 299}b"])


def test_sweep_settings_are_validated():
    from socio_re.config.validate import validate_config
    from socio_re.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sweep\.rerun"):
        validate_config(compose(["sweep.rerun=sometimes"]))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    import os

    work = tmp_path_factory.mktemp("grid")
    os.environ["MLFLOW_TRACKING_URI"] = uri = f"sqlite:///{work / 'mlflow.db'}"
    first = run_train(GRID, work)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    sweep_dir = work / "multirun" / "socrates" / sweep_name(None, GRID[1:])
    done = {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("*/done.json")}
    again = run_train(GRID, work)
    return {"work": work, "uri": uri, "dir": sweep_dir, "first": first, "again": again,
            "done": done}


@pytest.mark.slow
def test_grid_jobs_land_in_directories_named_after_their_overrides(grid):
    names = sorted(grid["done"])
    assert names == [f"trainer.learning_rate={lr}__trainer.per_device_train_batch_size={bs}"
                     for lr in ("0.001", "0.003") for bs in (4, 8)]
    for name in names:
        done = json.loads((grid["dir"] / name / "done.json").read_text())
        assert done["status"] == "completed" and "objective" in done["metrics"]
    assert "4 completed" in grid["first"].stdout


@pytest.mark.slow
def test_grid_is_one_parent_run_with_four_tagged_children_and_the_aggregate(grid):
    import mlflow

    client = mlflow.MlflowClient(grid["uri"])
    exp = client.get_experiment_by_name("socrates")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("socio_re.sweep_parent") == "true"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4 == len(runs) - 1
    parent = parents[0]
    sweep_id = f"socrates/{grid['dir'].name}"
    assert parent.data.tags["sweep_id"] == sweep_id
    assert parent.data.tags["overrides"] == " ".join(GRID[1:])
    seen = set()
    for child in children:
        tags, params = child.data.tags, child.data.params
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["sweep_id"] == sweep_id and tags["data"] == "socsci210-sample"
        assert f"trainer.learning_rate={params['trainer.learning_rate']}" in tags["overrides"]
        seen.add((params["trainer.learning_rate"], params["trainer.per_device_train_batch_size"]))
        # Named after what ran and this job's own overrides, not a timestamp or a number.
        lr, bs = params["trainer.learning_rate"], params["trainer.per_device_train_batch_size"]
        assert child.info.run_name.startswith("socrates·tiny-causal·single·")
        assert f"·learning_rate={lr}·per_device_train_batch_size={bs}·" in child.info.run_name
    assert seen == {(lr, bs) for lr in ("0.001", "0.003") for bs in ("4", "8")}
    assert sorted(c.data.tags["job_num"] for c in children) == ["0", "1", "2", "3"]
    objectives = [c.data.metrics["objective"] for c in children]
    # What the sweep ranks by is the validation loss, never a test metric.
    assert objectives == [c.data.metrics["val/loss"] for c in children]
    assert parent.data.metrics["cv/objective/mean"] == pytest.approx(statistics.mean(objectives))
    assert parent.data.metrics["cv/objective/std"] == pytest.approx(statistics.stdev(objectives))
    assert parent.info.status == "FINISHED"


@pytest.mark.slow
def test_rerunning_the_grid_skips_every_finished_job(grid):
    again = grid["again"]
    assert again.returncode == 0, again.stderr[-2000:]
    assert "4 skipped" in again.stdout and "0 to run" in again.stdout
    now = {p.parent.name: p.stat().st_mtime_ns for p in grid["dir"].glob("*/done.json")}
    assert now == grid["done"]  # nothing was redone


@pytest.mark.slow
def test_compare_ranks_the_grid_and_writes_plots(grid):
    out_dir = grid["work"] / "compare"
    out = run_module("socio_re.cli.compare", [
        "--tracking-uri", grid["uri"], "--experiment", "socrates", "--sweep",
        f"socrates/{grid['dir'].name}", "--out", str(out_dir)], grid["work"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "trainer.learning_rate" in out.stdout and "best:" in out.stdout
    for png in ("metric_vs_learning_rate.png", "metric_vs_batch_size.png", "loss_curves.png"):
        assert (out_dir / png).read_bytes()[:4] == b"\x89PNG", png


@pytest.mark.slow
def test_failed_and_interrupted_jobs_are_reported_and_only_they_are_redone(tmp_path):
    """Four jobs: one completes, one is stopped at its step-3 checkpoint (a killed job), two
    fail on a bad batch size. The sweep reports each and exits non-zero; the same command again
    skips the finished job, resumes the interrupted one, and re-runs the failures."""
    import mlflow

    args = ["-m", "task=socrates", "debug=smoke", "trainer.stop_at_step=null,3",
            "trainer.per_device_train_batch_size=4,-1"]
    first = run_train(args, tmp_path)
    assert first.returncode == 1, first.stdout[-2000:] + first.stderr[-2000:]
    assert "1 completed, 1 interrupted, 2 failed" in first.stdout
    assert "trainer.per_device_train_batch_size=-1 is invalid" in first.stdout
    assert "did not finish" in first.stderr and "Traceback" not in first.stderr
    sweep_dir = tmp_path / "multirun" / "socrates" / sweep_name(None, args[1:])
    good = sweep_dir / "trainer.per_device_train_batch_size=4__trainer.stop_at_step=null"
    stopped = sweep_dir / "trainer.per_device_train_batch_size=4__trainer.stop_at_step=3"
    assert (good / "done.json").exists() and not (stopped / "done.json").exists()
    assert (stopped / "checkpoints" / "checkpoint-3").is_dir()
    mtime = (good / "done.json").stat().st_mtime_ns
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    failed = [j for j in summary["jobs"] if j["status"] == "failed"]
    assert len(failed) == 2 and all(j["log"].endswith("_log.err") for j in failed)

    second = run_train(args, tmp_path)
    assert second.returncode == 1
    assert "1 completed, 1 skipped, 2 failed" in second.stdout
    assert (good / "done.json").stat().st_mtime_ns == mtime
    assert "resuming from" in (stopped / "run.log").read_text()
    state = json.loads((stopped / "checkpoints" / "checkpoint-6" / "trainer_state.json")
                       .read_text())
    steps = [h["step"] for h in state["log_history"] if "loss" in h]
    assert steps == sorted(set(steps)) and {2, 4, 6} <= set(steps)  # one continuous log
    # The resumed job continued its own MLflow run: one child per job that started.
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("socrates")
    children = client.search_runs([exp.experiment_id], filter_string=(
        f"tags.sweep_id = 'socrates/{sweep_dir.name}' and tags.job_num = '2'"))
    assert len(children) == 1 and children[0].info.status == "FINISHED"


def test_a_job_s_own_exit_is_a_record_not_text(tmp_path):
    """A job that ends with its one-line error (or a planned stop) leaves {code, message} where
    the launcher reads it; a new attempt starts without the old record."""
    from socio_re.sweeps.state import clear_job_exit, read_job_exit, write_job_exit

    assert read_job_exit(tmp_path, "fold=7") is None
    write_job_exit(tmp_path, "fold=7", 2, "config error: fold=7 is invalid")
    assert read_job_exit(tmp_path, "fold=7") == {"code": 2,
                                                 "message": "config error: fold=7 is invalid"}
    assert not (tmp_path / "fold=7").exists()  # beside the jobs, not in a run directory
    clear_job_exit(tmp_path, "fold=7")
    assert read_job_exit(tmp_path, "fold=7") is None


def test_error_lines_say_why_a_job_died():
    from socio_re.sweeps.outcome import error_line as _error_line

    killed = ("Job 13838 (task: 0) with path /s/.submitit/13838/13838_0_result.pkl\n"
              "has not produced any output (state: FAILED)\nError stream produced:\n"
              "----------------------------------------\n 86%|████████▌ | 6/7 [00:08<00:01]")
    assert _error_line(killed) == "the job process died without a result (state: FAILED)"
    assert _error_line("ValueError: boom") == "ValueError: boom"


def test_parallel_slots_give_each_job_its_processes_or_gpus():
    import os

    from omegaconf import OmegaConf

    from socio_re.sweeps.local import parallel_slots

    def cfg(n, max_parallel=None):
        return OmegaConf.create({"strategy": {"num_processes": n, "devices": None},
                                 "sweep": {"max_parallel": max_parallel}})

    assert parallel_slots(cfg(2), [0, 1, 2, 3]) == (2, 2)  # two 2-GPU jobs at once
    assert parallel_slots(cfg(None), [0, 1, 2, 3]) == (1, 4)  # null: every GPU
    assert parallel_slots(cfg(1, max_parallel=3), list(range(8))) == (3, 1)
    assert parallel_slots(cfg(1), []) == (max(1, os.cpu_count() or 1), 0)
    assert parallel_slots(cfg(64), []) == (1, 0)  # never fewer than one


def test_the_sigterm_of_our_own_requeue_does_not_cut_submitit_short():
    """SLURM answers submitit's ``scontrol requeue`` with SIGTERM at once: the job's handler
    must let submitit finish (its "Requeued job" line, its exit) instead of stopping there."""
    import os
    import signal

    from socio_re.sweeps.job import requeue_if_signalled, stop_on_slurm_signals
    from socio_re.training import preemption

    said = []

    def submitit_handler(signum, frame):  # what submitit does on SIGUSR2, in order
        os.kill(os.getpid(), signal.SIGTERM)  # the requeue's SIGTERM arrives mid-way
        said.append("Requeued job 1_2")
        raise SystemExit(-1)

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR2)}
    signal.signal(signal.SIGUSR2, submitit_handler)
    try:
        ending = stop_on_slurm_signals()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGUSR2)
        requeue_if_signalled(ending)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        preemption.reset()
    assert said == ["Requeued job 1_2"]
    assert (ending.signal, ending.code, ending.requeueing) == ("SIGUSR2", 143, False)
