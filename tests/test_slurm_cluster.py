"""Sweeps through a real Slurm scheduler: the one-node cluster of scripts/local_slurm.sh
(tests/slurm_cluster.py starts it once per session), jobs submitted with ``sbatch`` by the
``hydra/launcher=slurm`` preset, on a cluster without accounting."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, run_train
from slurm_cluster import slurm_cluster  # noqa: F401  (the fixture)

from socio_re.sweeps.naming import sweep_name

# --- a relext fold sweep: one job array, a task cancelled, one requeued, one signalled -------

# The tiny encoder on a few rows; 24 steps with a complete checkpoint every 2 (load_best off:
# it wants save_steps to be a multiple of eval_steps) leave seconds between a job's first
# checkpoint and its end, in which the test cancels, requeues or signals it.
FOLD_SETTINGS = ["task=relext", "model=tiny-encoder", "debug=smoke", "task.eval.max_rows=8",
                 "trainer.max_steps=24", "trainer.save_steps=2", "trainer.eval_steps=24",
                 "task.load_best=false"]
FOLD_SWEEP = ["-m", "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0",
              "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", *FOLD_SETTINGS,
              "fold=0,1,2,3,4"]
# Only to stop a hang (a loaded machine is several times slower than a quiet one).
WAIT_S = 600


def _slurm(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(list(args), env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, f"{args}: {out.stderr}"
    return out.stdout


def _wait_for(condition, what: str, process=None):
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert process is None or process.poll() is None, \
            f"the sweep ended before {what}: rc {process.returncode}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S}s"
        time.sleep(0.2)


def _has_complete_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "checkpoints").glob("checkpoint-*/socio_re_complete.json"))


@pytest.fixture(scope="module")
def fold_sweep(slurm_cluster, cache_dir, tmp_path_factory):  # noqa: F811
    """The fold sweep three times through sbatch, and fold 0 once without a scheduler.

    First run: while the array's first tasks run, fold 1 is cancelled (scancel), fold 0 is
    requeued (scontrol requeue: SLURM's preemption) and fold 2 gets SIGUSR2 (what SLURM sends
    signal_delay_s before the time limit), each once it has a complete checkpoint. Second run
    (the same command): resumes fold 1. Third: nothing left to do."""
    work = tmp_path_factory.mktemp("fold_sweep")
    (work / ".venv").symlink_to(ROOT / ".venv")
    env = {**slurm_cluster["env"], "OMP_NUM_THREADS": "1", "SOCIO_RE_CACHE_DIR": str(cache_dir),
           "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    sweep_dir = work / "multirun" / "relext" / sweep_name(None, FOLD_SWEEP[1:])
    first_out = work / "first.out"
    signallers: list[subprocess.Popen] = []
    timings, started = {}, time.monotonic()
    with open(first_out, "w") as stdout, open(work / "first.err", "w") as stderr:
        first = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *FOLD_SWEEP],
                                 cwd=work, stdout=stdout, stderr=stderr,
                                 env={**os.environ, **env})
    try:
        _wait_for(lambda: re.search(r"SLURM job (\d+)_0", first_out.read_text()),
                  "submission", first)
        array = re.search(r"SLURM job (\d+)_0", first_out.read_text()).group(1)

        def running(fold: int) -> bool:
            return _slurm("squeue", "-h", "-o", "%T", "-j", f"{array}_{fold}",
                          env=env).strip() == "RUNNING" and \
                _has_complete_checkpoint(sweep_dir / f"fold={fold}")

        actions = {1: ["scancel", f"{array}_1"], 0: ["scontrol", "requeue", f"{array}_0"],
                   2: ["scancel", "--signal=USR2", f"{array}_2"]}
        run_ids: dict[int, str] = {}

        def act() -> bool:  # on each fold as soon as it is ready: none may end untouched
            for fold in [f for f in actions if f not in run_ids and running(f)]:
                run_ids[fold] = json.loads(
                    (sweep_dir / f"fold={fold}" / "tracking.json").read_text())["run_id"]
                if fold == 2:  # scancel --signal can wait for the job it requeues: not us
                    signallers.append(subprocess.Popen(
                        actions[fold], env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL))
                else:
                    _slurm(*actions[fold], env=env)
            return len(run_ids) == len(actions)

        _wait_for(act, "a checkpoint in folds 0, 1 and 2 while they run", first)

        def requeued_started() -> bool:
            # SLURM holds a requeued job back (about 2 minutes) before it may start again: a
            # cluster's choice, not what is tested here, so the two requeued tasks may start now.
            for fold in (0, 2):
                task = f"{array}_{fold}"
                state = subprocess.run(["squeue", "-h", "-o", "%T", "-j", task],
                                       env={**os.environ, **env}, capture_output=True,
                                       text=True, timeout=60).stdout.strip()
                if state == "PENDING":
                    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"],
                                   env={**os.environ, **env}, capture_output=True, timeout=60)
            return first.poll() is not None

        _wait_for(requeued_started, "the end of the first sweep")
        first.wait(WAIT_S)
    finally:
        for process in [first, *signallers]:
            if process.poll() is None:
                process.kill()
            process.wait()
    first_summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    submitted = _job_folders(sweep_dir)
    timings["first"] = time.monotonic() - started
    with ThreadPoolExecutor(2) as pool:  # two cores: the reference run beside the re-run
        reference = pool.submit(run_train, [*FOLD_SETTINGS, "fold=0",
                                            f"hydra.run.dir={work / 'reference'}"], work,
                                WAIT_S, {**env, "MLFLOW_TRACKING_URI":
                                         f"sqlite:///{work / 'reference.db'}"})
        second = run_train(FOLD_SWEEP, work, WAIT_S, env)
        reference = reference.result()
    second_summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    second_aggregate = json.loads((sweep_dir / "aggregate.json").read_text())
    timings["second"] = time.monotonic() - started
    third = run_train(FOLD_SWEEP, work, WAIT_S, env)
    timings["third"] = time.monotonic() - started
    (work / "timings.json").write_text(json.dumps(timings))
    yield {"work": work, "dir": sweep_dir, "env": env, "array": array, "run_ids": run_ids,
           "first": (first.returncode, first_out.read_text(),
                     (work / "first.err").read_text()),
           "first_summary": first_summary, "submitted": submitted, "second": second,
           "second_summary": second_summary, "second_aggregate": second_aggregate,
           "reference": reference, "third": third,
           "third_summary": json.loads((sweep_dir / "sweep_summary.json").read_text())}


def _job_folders(sweep_dir: Path) -> list[str]:
    """submitit's folder per submitted job (and one per array) in the sweep directory."""
    return sorted(p.name for p in (sweep_dir / ".submitit").iterdir() if p.is_dir())


def _jobs(summary: dict) -> dict[str, dict]:
    return {job["name"]: job for job in summary["jobs"]}


@pytest.mark.slow
def test_a_fold_sweep_is_one_array_with_its_aggregate_on_one_parent(fold_sweep):
    import mlflow

    second = fold_sweep["second"]
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    first_jobs = _jobs(fold_sweep["first_summary"])
    assert sorted(first_jobs) == [f"fold={i}" for i in range(5)]
    # One array for the five folds.
    assert {job["job_id"] for job in first_jobs.values()} == \
        {f"{fold_sweep['array']}_{i}" for i in range(5)}
    for name, job in _jobs(fold_sweep["second_summary"]).items():
        assert job["status"] == ("completed" if name == "fold=1" else "skipped"), job
        assert (fold_sweep["dir"] / name / "done.json").exists()

    client = mlflow.MlflowClient(fold_sweep["env"]["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("relext").experiment_id
    runs = client.search_runs([experiment])
    parents = [r for r in runs if r.data.tags.get("socio_re.sweep_parent") == "true"]
    assert len(parents) == 1, "a re-run reuses the sweep's parent run"
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["fold"] for r in children) == [str(i) for i in range(5)]
    assert len(runs) == 6, "a resumed or requeued job continues its MLflow run"
    assert all(r.info.status == "FINISHED" for r in runs), [r.info.status for r in runs]
    assert parent.data.metrics["cv/val/micro_f1/mean"] >= 0
    assert "cv/val/micro_f1/std" in parent.data.metrics and "oof/micro_f1" in parent.data.metrics
    aggregate = json.loads((fold_sweep["dir"] / "aggregate.json").read_text())
    assert aggregate["jobs"] == 5
    assert "cross-validation: 5 of 5 folds finished" in second.stdout


@pytest.mark.slow
def test_job_ids_and_logs_are_in_the_summary_tags_and_console(fold_sweep):
    import mlflow

    _, stdout, stderr = fold_sweep["first"]
    ids = set()
    for summary in (fold_sweep["first_summary"], fold_sweep["second_summary"]):
        for job in _jobs(summary).values():
            if not job["job_id"]:  # skipped: nothing submitted
                continue
            # <array id>_<index> (the re-run submits fold 1 alone: a plain id); the log is
            # submitit's for that id.
            assert re.fullmatch(r"\d+(_\d)?", job["job_id"]), job
            assert Path(job["log"]).is_file() and job["job_id"] in job["log"]
            ids.add(job["job_id"])
    for name, job in _jobs(fold_sweep["first_summary"]).items():
        assert f"{name}: SLURM job {job['job_id']}, log {job['log']}" in stdout
    # No accounting on this cluster: one line says so, not one per poll.
    warnings = [line for line in stderr.splitlines() if "accounting" in line.lower()]
    assert len(warnings) <= 1, warnings

    client = mlflow.MlflowClient(fold_sweep["env"]["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("relext").experiment_id])
    children = [r.data.tags for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 5 and all(t["slurm_job_id"] in ids for t in children)
    assert all(Path(t["job_log"]).is_file() for t in children)
    parent = [r.data.tags for r in runs if r.data.tags.get("socio_re.sweep_parent") == "true"]
    # the last submission's ids: the re-run resubmitted fold 1 alone
    resubmitted = [j["job_id"] for j in _jobs(fold_sweep["second_summary"]).values()
                   if j["job_id"]]
    assert [t["slurm_job_ids"] for t in parent] == [",".join(sorted(resubmitted))]


@pytest.mark.slow
def test_the_same_command_again_submits_nothing(fold_sweep):
    third = fold_sweep["third"]
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "5 jobs, 5 already done, 0 to run" in third.stdout
    jobs = _jobs(fold_sweep["third_summary"]).values()
    assert [job["status"] for job in jobs] == ["skipped"] * 5
    assert [job["job_id"] for job in jobs] == [""] * 5
    assert "SLURM job" not in third.stdout
    # The second run submitted fold 1 alone (and its aggregate job); the third nothing.
    after = _job_folders(fold_sweep["dir"])
    assert len(after) == len(fold_sweep["submitted"]) + 2, (fold_sweep["submitted"], after)


@pytest.mark.slow
def test_an_aggregate_job_after_the_array_computes_the_cv_aggregate_and_fold_ensemble(
        fold_sweep):
    import mlflow

    # First run: after the array (fold 1 cancelled): the aggregate of the four folds that
    # finished, computed by a job that waited for the requeued tasks too.
    first = fold_sweep["first_summary"]["aggregate_job"]
    assert first["dependency"] == f"afterany:{fold_sweep['array']}"
    assert first["status"] == "completed", first
    script = next(Path(first["log"]).parent.glob("*_submission.sh")).read_text()
    assert f"#SBATCH --dependency=afterany:{fold_sweep['array']}" in script
    assert "aggregate of 4 jobs" in Path(first["log"]).read_text()
    # Second run (fold 1 resumed): all five folds, and the fold ensemble, on the cluster.
    second = fold_sweep["second_summary"]["aggregate_job"]
    aggregate = fold_sweep["second_aggregate"]
    assert aggregate["computed_by"].startswith(f"SLURM job {second['job_id']} ")
    assert aggregate["jobs"] == 5
    ensemble = aggregate["ensemble"]
    assert ensemble["models"] == 5 and "test/micro_f1" in ensemble["metrics"]
    on_disk = json.loads((fold_sweep["dir"] / "ensemble" / "metrics.json").read_text())
    assert on_disk["test/micro_f1"] == ensemble["metrics"]["test/micro_f1"]
    assert on_disk["ensemble/models"] == 5
    assert "fold ensemble (mean of 5 fold models) on test" in fold_sweep["second"].stdout
    client = mlflow.MlflowClient(fold_sweep["env"]["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("relext").experiment_id])
    parent, = [r for r in runs if r.data.tags.get("socio_re.sweep_parent") == "true"]
    assert parent.data.metrics["ensemble/test/micro_f1"] == \
        pytest.approx(ensemble["metrics"]["test/micro_f1"])


@pytest.mark.slow
def test_a_cancelled_task_is_reported_and_resumes_alone(fold_sweep):
    rc, stdout, stderr = fold_sweep["first"]
    assert rc == 1, stdout[-3000:] + stderr[-3000:]
    jobs = _jobs(fold_sweep["first_summary"])
    assert jobs["fold=1"]["status"] == "interrupted", jobs["fold=1"]
    assert "CANCELLED" in jobs["fold=1"]["error"], jobs["fold=1"]
    assert "1 of 5 jobs did not finish" in stdout + stderr
    others = {name: job["status"] for name, job in jobs.items() if name != "fold=1"}
    assert set(others.values()) == {"completed"}, others

    second = fold_sweep["second"]
    assert "5 jobs, 4 already done, 1 to run" in second.stdout
    resumed = _jobs(fold_sweep["second_summary"])["fold=1"]
    assert resumed["job_id"] != jobs["fold=1"]["job_id"]
    assert "resuming from" in Path(resumed["log"]).read_text()
    run_dir = fold_sweep["dir"] / "fold=1"
    assert json.loads((run_dir / "tracking.json").read_text())["run_id"] == \
        fold_sweep["run_ids"][1]
    assert json.loads((run_dir / "metrics.json").read_text())["train/global_step"] == 24


@pytest.mark.slow
@pytest.mark.parametrize("fold", [0, 2], ids=["scontrol-requeue", "sigusr2-time-limit"])
def test_a_requeued_job_resumes_its_run_and_ends_as_if_uninterrupted(fold_sweep, fold):
    job = _jobs(fold_sweep["first_summary"])[f"fold={fold}"]
    assert job["status"] == "completed" and job["job_id"] == f"{fold_sweep['array']}_{fold}"
    log = Path(job["log"]).read_text()
    assert "resuming from" in log, log[-3000:]
    if fold == 2:  # submitit's handler: checkpoint the submission, requeue the same job id
        assert "Caught signal SIGUSR2" in log and f"Requeued job {job['job_id']}" in log
    run_dir = fold_sweep["dir"] / f"fold={fold}"
    assert json.loads((run_dir / "tracking.json").read_text())["run_id"] == \
        fold_sweep["run_ids"][fold]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if fold == 0:
        reference = fold_sweep["reference"]
        assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-3000:]
        expected = json.loads((fold_sweep["work"] / "reference" / "metrics.json").read_text())
        timings = [k for k in expected if "time" in k or "per_second" in k]
        for key in timings:
            expected.pop(key)
            metrics.pop(key, None)
        assert metrics == pytest.approx(expected, rel=1e-5, abs=1e-7)
    else:
        assert metrics["train/global_step"] == 24


# --- a two-process job out of time: SLURM's warning signal, a checkpoint, the requeue -------

# strategy=ddp: the job starts its two ranks itself. No periodic checkpoint (save_steps past
# max_steps), so the only checkpoint there is to resume from is the one the signal asked for;
# enough steps that training lasts well past slurmctld's 30 s time-limit check.
DDP_SETTINGS = ["task=relext", "model=tiny-encoder", "debug=smoke", "strategy=ddp",
                "task.eval.max_rows=8", "trainer.max_steps=400", "trainer.save_steps=100000",
                "trainer.eval_steps=100000", "task.load_best=false", "fold=0"]
# signal_delay_s past any limit the test sets: the warning goes out at slurmctld's next check.
DDP_JOB = ["-m", "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0",
           "hydra.launcher.cpus_per_task=2", "hydra.launcher.mem_gb=4",
           "hydra.launcher.timeout_min=30", "hydra.launcher.signal_delay_s=600", *DDP_SETTINGS]
# slurmctld checks time limits every 30 s, so the signal comes up to 30 s after it is due.
SLURM_CHECK_S = 30


def _state(task: str, env: dict[str, str]) -> tuple[str, int]:
    """(state, seconds run) of a job, from squeue ("" and 0 once it has left the queue)."""
    out = subprocess.run(["squeue", "-h", "-o", "%T %M", "-j", task], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60).stdout.split()
    if len(out) < 2:
        return "", 0
    seconds = 0
    for part in out[1].replace("-", ":").split(":"):
        seconds = seconds * 60 + int(part)
    return out[0], seconds


@pytest.fixture(scope="module")
def time_limited_job(slurm_cluster, cache_dir, tmp_path_factory):  # noqa: F811
    """A two-process job whose time limit runs out mid-training, and the same run without a
    scheduler.

    Once training is under way the test cuts the running job's time limit to a minute or two
    (``scontrol update TimeLimit``: what a short ``timeout_min`` does, without betting on when
    training starts on a loaded machine). slurmctld then sends SIGUSR2 at its next time-limit
    check; the job saves a checkpoint and requeues itself. The requeued job gets its full
    limit back and starts at once (SLURM holds a requeued job about 2 minutes otherwise)."""
    work = tmp_path_factory.mktemp("time_limit")
    (work / ".venv").symlink_to(ROOT / ".venv")
    env = {**slurm_cluster["env"], "SOCIO_RE_CACHE_DIR": str(cache_dir),
           "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    out_file = work / "job.out"
    with open(out_file, "w") as stdout, open(work / "job.err", "w") as stderr:
        sweep = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *DDP_JOB], cwd=work,
                                 stdout=stdout, stderr=stderr, env={**os.environ, **env})
    cut = {}
    try:
        _wait_for(lambda: re.search(r"SLURM job (\S+), log (\S+)", out_file.read_text()),
                  "submission", sweep)
        task, log = re.search(r"SLURM job (\S+), log (\S+)", out_file.read_text()).groups()

        progress = Path(log).with_name(Path(log).name.replace("_log.err", "_log.out"))

        def training() -> bool:  # rank 0's progress lines
            return progress.is_file() and re.search(r"step \d+/400", progress.read_text())

        _wait_for(training, "training in the job", sweep)
        state, ran = _state(task, env)
        assert state == "RUNNING", state
        # A limit the job cannot reach before the signal (at most 30 s after the cut) and the
        # save it triggers, on a loaded machine too.
        cut["minutes"] = -(-(ran + SLURM_CHECK_S + 60) // 60)
        _slurm("scontrol", "update", f"JobId={task}", f"TimeLimit={cut['minutes']}", env=env)

        def requeued() -> bool:
            if _state(task, env)[0] == "PENDING":
                _slurm("scontrol", "update", f"JobId={task}", "TimeLimit=30", "StartTime=now",
                       env=env)
                return True
            return False

        _wait_for(requeued, "the requeue after the time-limit signal", sweep)
        sweep.wait(WAIT_S)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    reference = run_train([*DDP_SETTINGS, f"hydra.run.dir={work / 'reference'}"], work, WAIT_S,
                          {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'reference.db'}"})
    sweep_dir = work / "multirun" / "relext" / sweep_name(None, DDP_JOB[1:])
    yield {"rc": sweep.returncode, "out": out_file.read_text(),
           "err": (work / "job.err").read_text(),
           "log": progress.read_text() + Path(log).read_text(), "dir": sweep_dir, "task": task,
           "reference": reference, "work": work, "env": env, "cut": cut}


@pytest.mark.slow
def test_a_ddp_job_out_of_time_checkpoints_requeues_and_ends_as_if_uninterrupted(
        time_limited_job):
    import mlflow

    job = time_limited_job
    assert job["rc"] == 0, job["out"][-3000:] + job["err"][-3000:]
    # Two ranks inside the one job, one run directory.
    run_dirs = [p for p in job["dir"].iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(run_dirs) == 1 and "fold=0" in run_dirs[0].name, run_dirs
    assert "DDP · 2 processes" in job["log"]
    # The signal came from slurmctld's time-limit check, was turned into a checkpoint at the
    # end of a step (no periodic checkpoint exists), and the requeued job resumed from it.
    saved = re.search(r"SIGUSR2 from SLURM: saving a checkpoint at step (\d+)", job["log"])
    assert saved, job["log"][-3000:]
    step = int(saved.group(1))
    assert 0 < step < 400
    assert f"Requeued job {job['task']}" in job["log"]
    assert re.search(rf"resuming from \S+checkpoint-{step}\b", job["log"]), job["log"][-3000:]
    summary, = json.loads((job["dir"] / "sweep_summary.json").read_text())["jobs"]
    assert summary["status"] == "completed" and summary["job_id"] == job["task"]

    reference = job["reference"]
    assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-3000:]
    expected = json.loads((job["work"] / "reference" / "metrics.json").read_text())
    metrics = json.loads((run_dirs[0] / "metrics.json").read_text())
    for key in [k for k in expected if "time" in k or "per_second" in k]:
        expected.pop(key)
        metrics.pop(key, None)
    assert metrics == pytest.approx(expected, rel=1e-5, abs=1e-7)
    # The requeued job continued the MLflow run the first attempt opened.
    client = mlflow.MlflowClient(job["env"]["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("relext").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 1 and children[0].info.status == "FINISHED"
