"""The sweep loop behind ``python train.py -m ...`` (hydra_plugins/socio_re_launcher holds the
thin Hydra plugin classes that call it).

What it adds to hydra-submitit-launcher:
- a deterministic sweep directory and one directory per job named after the job's own
  overrides, so re-running the same command finds earlier work;
- skip jobs with a done marker, resume interrupted ones (their checkpoints are in their
  directory and ``resume=auto``), re-run failed ones;
- bounded parallelism on the local executor (CPU cores or GPUs per job), distinct GPUs for
  concurrent local jobs;
- one failing job does not stop the others; a summary table at the end, then the
  cross-validation table of a fold sweep or the ranking of a grid (sweeps/report.py), non-zero
  exit if any job did not finish;
- an MLflow parent run created before the jobs start, the cross-validation aggregate on it;
- Ctrl-C stops the local jobs and marks the parent and the child runs left RUNNING as KILLED.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from socio_re.errors import RunInterrupted, UserError
from socio_re.launch.slurm import SubmissionError, submission_errors
from socio_re.sweeps.naming import job_dir_name
from socio_re.sweeps.report import print_sweep_result, print_sweep_summary
from socio_re.sweeps.state import (
    clear_done,
    has_checkpoint,
    job_state,
    read_done,
    read_job_exit,
)

log = logging.getLogger(__name__)

SUMMARY_FILE = "sweep_summary.json"
# After Ctrl-C, how long cancelled local jobs get to exit (and close their own MLflow runs)
# before the launcher marks the runs still RUNNING as KILLED.
CANCEL_GRACE_S = 10.0


class SweepFailed(UserError):
    """Some jobs of the sweep did not finish; the summary above says which and why."""

    exit_code = 1


class JobExit(Exception):
    """A job ended with ``sys.exit(code)`` (a one-line user error, or a planned stop); raised
    instead so that submitit records it as the job's failure with the message."""

    def __init__(self, code: int, message: str):
        super().__init__(f"exit {code}: {message}")
        self.code = code
        self.message = message


@dataclass
class JobRecord:
    num: int
    name: str
    overrides: str
    directory: str
    status: str = "pending"  # completed | skipped | interrupted | not started | failed
    error: str = ""
    log: str = ""
    job_id: str = ""  # submitit's: the SLURM job id (123_4 in an array), a pid on this machine
    metrics: dict[str, Any] = field(default_factory=dict)


# --- job side (runs inside the submitit job) ---------------------------------------------


def run_sweep_job(launcher, sweep_overrides: list[str], job_dir_key: str, job_num: int,
                  singleton_state: dict, job_info: dict[str, Any]):
    """Compose the job's config, pin its directory and sweep identity, run it."""
    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    from socio_re.errors import ReportedExit
    from socio_re.sweeps.state import clear_job_exit, write_job_exit

    sweep_dir, name = Path(job_info["sweep_dir"]), job_info["subdir"]
    clear_job_exit(sweep_dir, name)  # a record of an earlier attempt says nothing about this one
    Singleton.set_state(singleton_state)
    setup_globals()
    env = submitit.JobEnvironment()
    # The job's submitit log, for the run's tags (its SLURM job id is in SLURM_* already).
    os.environ["SOCIO_RE_JOB_LOG"] = str(env.paths.stderr)
    if job_info.get("threads"):
        # Concurrent local jobs share the cores: each gets its share, not all of them (set
        # before torch is imported; a multi-process job's ranks keep it too).
        os.environ.setdefault("OMP_NUM_THREADS", str(job_info["threads"]))
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config,
                                                                 sweep_overrides)
    with open_dict(cfg):
        cfg.hydra.job.id = env.job_id
        cfg.hydra.job.num = job_num
        # Fixed strings: re-resolving the interpolations here would see this job's overrides.
        cfg.hydra.sweep.dir = job_info["sweep_dir"]
        cfg.hydra.sweep.subdir = job_info["subdir"]
        cfg.sweep.id = job_info["sweep_id"]
        cfg.sweep.parent_run_id = job_info["parent_run_id"]
        cfg.sweep.job_num = job_num
        cfg.sweep.job_overrides = job_info["overrides"]
    ended_by = _stop_on_slurm_signals() if env.cluster == "slurm" else {}
    try:
        ret = run_job(hydra_context=launcher.hydra_context, task_function=launcher.task_function,
                      config=cfg, job_dir_key=job_dir_key, job_subdir_key="hydra.sweep.subdir")
    except BaseException as exc:
        _requeue_if_signalled(ended_by)  # the checkpoint asked for by SIGUSR2 is on disk
        if ended_by:  # cancelled, requeued or preempted: no result, the scheduler's state tells
            raise SystemExit(ended_by["code"]) from None
        if not isinstance(exc, SystemExit):
            raise
        # The entry point's one-line errors end in sys.exit(code).
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            message = exc.line if isinstance(exc, ReportedExit) else f"exit code {code}"
            write_job_exit(sweep_dir, name, code, message)
            raise JobExit(code, message) from None
        raise
    # Signalled after its training ended: the run finished, no requeue needed.
    ended_by.pop("deferred", None)
    if ended_by:
        raise SystemExit(ended_by["code"])
    return ret


# Exit status of a job stopped by SIGTERM (scancel, scontrol requeue, preemption, the time limit).
SIGTERM_EXIT = 143


def _stop_on_slurm_signals() -> dict[str, Any]:
    """Inside a SLURM job: stop the run when the scheduler ends the job, and leave no result.

    SIGTERM (``scancel``, ``scontrol requeue``, preemption, the time limit itself): submitit
    ignores it (it waits for its USR2 to checkpoint and requeue), so a job that was cancelled or
    requeued trained on for the cluster's KillWait, and could even finish and write a result
    while SLURM was requeueing it: the launcher then reported it done and stopped waiting, and
    the requeued copy ran unwatched. Here SIGTERM stops the run at once (its MLflow run is
    marked KILLED; resume=auto continues from the newest checkpoint).

    SIGUSR2 (``signal_delay_s`` before the time limit, or a preemption warning): while a
    trainer trains, here or in the ranks this job started, the signal only asks for a
    checkpoint (training/preemption.py); the run saves at the end of its step and stops, and
    only then does submitit requeue the job (:func:`_requeue_if_signalled`). Otherwise (still
    loading, or evaluating after training) submitit requeues at once.

    Either way the job ends without a result file, so the launcher goes by the scheduler's
    state: CANCELLED (interrupted, resumable) or requeued (it keeps waiting for the next
    attempt). Returns the dict that says how it ended (``{"signal", "code"}`` once set; a
    deferred USR2 waits under ``"deferred"``)."""
    import signal

    from socio_re.training import preemption

    ended_by: dict[str, Any] = {}
    preemption.reset()

    def on_sigterm(signum, frame):
        if "code" not in ended_by:
            ended_by.update(signal="SIGTERM", code=SIGTERM_EXIT)
            log.warning("SIGTERM from SLURM (job cancelled, requeued, preempted or out of time): "
                        "stopping; a re-run or the requeued job resumes from the newest "
                        "checkpoint")
            raise KeyboardInterrupt

    usr2 = signal.getsignal(signal.SIGUSR2)

    def requeue(signum, frame):
        try:
            if callable(usr2):
                usr2(signum, frame)  # submitit: checkpoint, scontrol requeue, sys.exit(-1)
        except SystemExit:
            ended_by.update(signal="SIGUSR2", code=SIGTERM_EXIT)
            raise KeyboardInterrupt from None

    def on_usr2(signum, frame):
        if "code" in ended_by or "deferred" in ended_by:
            return
        if preemption.can_checkpoint():
            preemption.request("SIGUSR2")
            ended_by["deferred"] = lambda: requeue(signum, frame)
            log.warning("SIGUSR2 from SLURM (time limit or preemption ahead): the run saves a "
                        "checkpoint at the end of its current step, then the job is requeued")
            return
        requeue(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGUSR2, on_usr2)
    return ended_by


def _requeue_if_signalled(ended_by: dict[str, Any]) -> None:
    """After the run ended (stopped at its checkpoint, or finished): the requeue a SIGUSR2 asked
    for. submitit's handler requeues the job and exits; ``ended_by`` then says so."""
    deferred = ended_by.pop("deferred", None)
    if deferred is not None and "code" not in ended_by:
        with contextlib.suppress(KeyboardInterrupt):  # raised once ended_by says so
            deferred()


# --- launcher side -----------------------------------------------------------------------


def _executor(launcher, folder: str):
    """submitit's executor with the launcher's parameters (as hydra-submitit-launcher does)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    kind = launcher._EXECUTOR
    params = dict(launcher.params)
    init = {"folder": folder}
    if "max_num_timeout" in params:
        init[f"{kind}_max_num_timeout"] = params.pop("max_num_timeout")
    params.pop("submitit_folder", None)
    executor = submitit.AutoExecutor(cluster=kind, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"{kind}_{k}": v
                                  for k, v in params.items()})
    return executor


def visible_gpu_ids() -> list[int]:
    """GPU ids this process may use, without importing torch (the launcher stays light)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [int(x) for x in env.split(",") if x.strip().isdigit()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return list(range(sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))))


def processes_per_job(cfg) -> int:
    s = cfg.strategy
    if s.get("num_processes"):
        return int(s.num_processes)
    if s.get("devices"):
        return len(s.devices)
    return 0  # null: every visible GPU (or 2 on CPU), resolved below


def explicit_max_parallel(cfg) -> int | None:
    """``sweep.max_parallel`` as set (None: null, as many as fit)."""
    from socio_re.errors import ConfigError

    wanted = cfg.sweep.get("max_parallel")
    if wanted is None:
        return None
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise ConfigError("sweep.max_parallel", wanted,
                          "a number of jobs at once (1 or more), or null for as many as the "
                          "CPU cores or GPUs fit")
    return wanted


def oversubscription_warning(wanted: int, fits: int, per_job: int, gpus: list[int]) -> str | None:
    """One line when ``wanted`` jobs at once need more GPUs (jobs on GPUs) or CPU cores than
    this machine has; None when they fit."""
    if wanted <= fits:
        return None
    unit, have = ("GPUs", len(gpus)) if gpus else ("CPU cores", os.cpu_count() or 1)
    share = "share GPUs and may run out of GPU memory" if gpus else \
        "share the cores and each runs slower"
    return (f"sweep.max_parallel={wanted}: {wanted} jobs at once x {per_job} "
            f"{'GPUs' if gpus else 'processes'} each need {wanted * per_job} {unit}, this "
            f"machine has {have}; the jobs will {share} (null runs {fits} at a time)")


def parallel_slots(cfg, gpus: list[int]) -> tuple[int, int]:
    """(jobs at once, GPUs per job). A job that needs N processes gets N GPUs (or N cores).
    ``sweep.max_parallel=null``: as many jobs as fit (at least one). An explicit value is
    honoured, even past what fits: then one warning says what the jobs will share."""
    per_job = processes_per_job(cfg)
    if gpus:
        per_job = per_job or len(gpus)
        fits = max(1, len(gpus) // per_job)
    else:
        per_job = per_job or 2
        fits = max(1, (os.cpu_count() or 1) // per_job)
    wanted = explicit_max_parallel(cfg)
    if wanted is None:
        return fits, (per_job if gpus else 0)
    warning = oversubscription_warning(wanted, fits, per_job, gpus)
    if warning:
        log.warning(warning)
    return wanted, (per_job if gpus else 0)


def pick_gpus(load: dict[int, int], n: int) -> list[int]:
    """The ``n`` GPUs running the fewest jobs now (the lowest ids first among equals): distinct
    free GPUs while they last, shared ones only when sweep.max_parallel asks for more jobs."""
    return sorted(load, key=lambda gpu: load[gpu])[:n]


def _varying(job_overrides) -> list[list[str]]:
    """Each job's overrides minus those shared by every job (those name the sweep, not it)."""
    common = set.intersection(*(set(o) for o in job_overrides)) if len(job_overrides) > 1 \
        else set()
    return [[o for o in overrides if o not in common] for overrides in job_overrides]


def _error_line(text: str) -> str:
    """Why a job without an exit record ended: submitit's "no output" verdict for a process
    that died (killed, out of memory), else the exception's last line. (A job that ended with
    its own one-line error or a planned stop left a record: ``read_job_exit``.)"""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("has not produced any output"):
            return f"the job process died without a result ({line.split('(', 1)[-1].rstrip(')')})"
    return lines[-1][:300] if lines else "unknown error"


def launch_sweep(launcher, job_overrides, initial_job_idx: int):
    from hydra.core.singleton import Singleton
    from omegaconf import open_dict

    cfg = launcher.config
    sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.sweep.dir = str(sweep_dir)  # pickled with the launcher into every job
    sweep_id = f"{cfg.task.name}/{sweep_dir.name}"
    local = launcher._EXECUTOR == "local"
    gpus = visible_gpu_ids() if local else []
    # Before the parent run: a wrong sweep.max_parallel stops here, with no run left RUNNING.
    explicit_max_parallel(cfg)
    slots, gpus_per_job = parallel_slots(cfg, gpus) if local else (0, 0)  # SLURM: its array
    if not local:  # sbatch --test-only: a refusal stops here, before the parent run exists
        from socio_re.launch.slurm import check_submittable

        check_submittable(_executor(launcher, str(sweep_dir / ".submitit" / "%j")),
                          len(job_overrides), explicit_max_parallel(cfg))
    parent, uri, experiment = _open_tracking(launcher, sweep_id, sweep_dir)
    records, to_run = _plan_jobs(job_overrides, sweep_dir, initial_job_idx,
                                 cfg.sweep.get("rerun", "unfinished"))

    skipped = sum(r.status == "skipped" for r in records)
    log.info("sweep %s: %d jobs (%d already done, %d to run, %s) in %s", sweep_id,
             len(records), skipped, len(to_run),
             f"{slots} at a time" if local else "on SLURM", sweep_dir)
    print(f"sweep {sweep_id}: {len(records)} jobs, {skipped} already done, {len(to_run)} to run"
          + (f", {slots} at a time" if local else ""), flush=True)

    if not local:
        # Job states from sacct, or from squeue (one warning) where accounting is off.
        from socio_re.launch.slurm import use_queue_state_watcher

        use_queue_state_watcher()
    executor = _executor(launcher, str(sweep_dir / ".submitit" / "%j"))
    state = Singleton.get_state()
    # Threads per process when jobs run side by side on this machine's CPU cores.
    threads = max(1, (os.cpu_count() or 1) // (slots * max(1, processes_per_job(cfg) or 2))) \
        if local and not gpus and slots > 1 else None

    def params(rec: JobRecord, job: list[str]) -> tuple:
        info = {"sweep_dir": str(sweep_dir), "subdir": rec.name, "sweep_id": sweep_id,
                "parent_run_id": parent, "overrides": rec.overrides, "threads": threads}
        return (job, "hydra.sweep.dir", rec.num, f"job_id_for_{rec.num}", state, info)

    results: dict[int, Any] = {}
    running: list[tuple[Any, JobRecord, list[int]]] = []
    stopped = False  # by Ctrl-C
    task = str(cfg.task.name)
    tracking = {"uri": uri, "experiment": experiment, "sweep_id": sweep_id, "parent": parent} \
        if parent is not None else None
    finished_by: dict[str, Any] = {}  # the SLURM aggregate job's result, once it ran
    try:
        if local:
            _run_here(launcher, executor, list(to_run), running, params, slots, gpus,
                      gpus_per_job, lambda job, rec: _collect(job, rec, sweep_dir, results))
        elif to_run:
            _run_on_slurm(launcher, executor, cfg, list(to_run), params,
                          lambda job, rec: _collect(job, rec, sweep_dir, results),
                          lambda recs: _tag_parent(uri, parent, recs),
                          lambda array: _submit_aggregate_job(
                              launcher, sweep_dir, array, records, task, tracking, finished_by))
    except SubmissionError:  # sbatch refused at submission: nothing runs, close the parent
        if parent is not None:
            from socio_re.sweeps.parent import finish_parent

            finish_parent(uri, parent, "FAILED")
        raise
    except KeyboardInterrupt:
        stopped = True
        stop_after_ctrl_c(running, records)

    unfinished = [r for r in records if r.status not in ("completed", "skipped")]
    if "result" in finished_by:  # the aggregate job did it on the cluster
        aggregate = finished_by["result"]
    else:
        from socio_re.sweeps.finish import finish_sweep

        aggregate = finish_sweep(records, sweep_dir, task, tracking, stopped=stopped,
                                 jobs_cancelled=local)
    _write_summary(sweep_dir, sweep_id, parent, records, finished_by.get("job"))
    print_sweep_summary(sweep_id, sweep_dir, parent, uri, records)
    print_sweep_result(records, task, aggregate)
    if unfinished:
        raise SweepFailed(
            f"{len(unfinished)} of {len(records)} jobs did not finish (see the table above); "
            "fix the cause and re-run the same command: finished jobs are skipped, "
            "interrupted ones resume from their checkpoints")
    return _hydra_returns(records, results)


def _open_tracking(launcher, sweep_id: str, sweep_dir: Path):
    """(parent run id, tracking URI, experiment) of the sweep; all None without MLflow or when
    the store cannot be reached (the jobs still run)."""
    from socio_re.sweeps.parent import open_parent

    cfg = launcher.config
    if cfg.tracking.backend != "mlflow":
        return None, None, None
    from socio_re.tracking.tracker import default_tracking_uri, git_commit

    uri = cfg.tracking.get("tracking_uri") or default_tracking_uri()
    experiment = cfg.tracking.get("experiment_name") or cfg.task.name
    overrides = " ".join(str(o) for o in cfg.hydra.overrides.task)
    parent = open_parent(uri, experiment, sweep_id, sweep_dir, {
        "task": str(cfg.task.name), "overrides": overrides,
        "git_commit": git_commit(Path(__file__).parent), "launcher": launcher._EXECUTOR})
    return parent, uri, experiment


def _collect(job, rec: JobRecord, sweep_dir: Path, results: dict) -> None:
    """A finished job's status, error line and metrics into its record."""
    from hydra.core.utils import JobStatus

    rec.log, rec.job_id = str(job.paths.stderr), str(job.job_id)
    try:
        ret = job.result()
    except Exception as exc:  # the job raised (JobExit) or died
        ended = read_job_exit(sweep_dir, rec.name)
        rec.error = f"exit {ended['code']}: {ended['message']}" if ended \
            else _error_line(str(exc))
        # A planned stop (exit 3), or a job killed from outside after a checkpoint: both
        # resume on a re-run, so neither is a failure to fix.
        planned = bool(ended) and ended["code"] == RunInterrupted.exit_code
        killed = not ended and has_checkpoint(Path(rec.directory))
        rec.status = "interrupted" if planned or killed else "failed"
        return
    if ret.status == JobStatus.COMPLETED:
        rec.status = "completed"
        rec.metrics = (read_done(Path(rec.directory)) or {}).get("metrics", {})
        results[rec.num] = ret
    else:
        exc = ret._return_value
        rec.status = "failed"
        rec.error = _error_line(f"{type(exc).__name__}: {exc}")


def _run_here(launcher, executor, pending: list, running: list, params, slots: int,
              gpus: list[int], gpus_per_job: int, collect) -> None:
    """This machine: ``slots`` jobs at a time, each on its own GPUs when there are any (shared
    only when more jobs than fit were asked for); ``running`` is shared with the caller (a
    Ctrl-C stops what is in it)."""
    load = dict.fromkeys(gpus, 0)  # jobs running on each GPU
    while pending or running:
        while pending and len(running) < slots:
            rec, job = pending.pop(0)
            ids = pick_gpus(load, gpus_per_job) if gpus_per_job else []
            for gpu in ids:
                load[gpu] += 1
            if gpus_per_job:
                executor.update_parameters(gpus_per_node=gpus_per_job, visible_gpus=ids)
            running.append((executor.submit(launcher, *params(rec, job)), rec, ids))
            rec.job_id = str(running[-1][0].job_id)
            log.info("started job #%d %s", rec.num, rec.name)
        time.sleep(0.5)
        for item in [r for r in running if r[0].done()]:
            running.remove(item)
            collect(item[0], item[1])
            for gpu in item[2]:
                load[gpu] -= 1
            print(f"job #{item[1].num} {item[1].name}: {item[1].status}", flush=True)


def _run_on_slurm(launcher, executor, cfg, pending: list, params, collect,
                  submitted=None, after_array=None) -> None:
    """One SLURM job array (at most ``sweep.max_parallel`` at once), waited for job by job;
    ``submitted(records)`` once the jobs are on the cluster, ``after_array(array_id)`` then
    (the aggregate job); it returns a function that waits for what it submitted."""
    wanted = explicit_max_parallel(cfg)
    if wanted:
        executor.update_parameters(slurm_array_parallelism=wanted)
    columns = zip(*(params(r, j) for r, j in pending), strict=True)
    with submission_errors(len(pending)):  # sbatch's refusal: one line, not a traceback
        jobs = executor.map_array(launcher, *columns)
    for job, (rec, _) in zip(jobs, pending, strict=True):
        # Submitted: a Ctrl-C leaves it on the cluster, the summary says where to look.
        rec.log, rec.job_id = str(job.paths.stderr), str(job.job_id)
        print(f"job #{rec.num} {rec.name}: SLURM job {rec.job_id}, log {rec.log}", flush=True)
    if submitted is not None:
        submitted([rec for rec, _ in pending])
    wait_for_aggregate = after_array(str(jobs[0].job_id).split("_")[0]) if after_array else None
    for job, (rec, _) in zip(jobs, pending, strict=True):
        _wait_through_requeues(job)
        collect(job, rec)
        print(f"job #{rec.num} {rec.name}: {rec.status} (SLURM job {rec.job_id})", flush=True)
    if wait_for_aggregate is not None:
        wait_for_aggregate()


def _wait_through_requeues(job) -> None:
    """Wait for a SLURM job until it has a result or SLURM no longer lists it as queued: a job
    being requeued can look ended to the poller for a moment (it was once reported interrupted
    while its requeued attempt went on to finish)."""
    from socio_re.launch.slurm import still_queued

    while True:
        job.wait()
        if Path(job.paths.result_pickle).exists() or not still_queued(str(job.job_id)):
            return
        log.info("SLURM job %s was requeued; waiting for its next attempt", job.job_id)
        job.watcher._finished.discard(str(job.job_id))  # back in the queue: poll it again
        time.sleep(2)


def _submit_aggregate_job(launcher, sweep_dir: Path, array: str, records: list[JobRecord],
                          task: str, tracking: dict | None, finished_by: dict):
    """Submit the sweep's aggregate job (sweeps/finish.py) to start after every task of
    ``array`` has ended; returns the function that waits for it and puts its result (or,
    when it failed, nothing: the submitting command then aggregates itself) in
    ``finished_by``."""
    from socio_re.sweeps.finish import aggregate_job

    executor = _executor(launcher, str(sweep_dir / ".submitit" / "%j"))
    extra = dict(launcher.params.get("additional_parameters") or {})
    # afterany: failed or cancelled tasks end the wait too (the aggregate says what finished).
    executor.update_parameters(slurm_additional_parameters={**extra,
                                                            "dependency": f"afterany:{array}"},
                               name="aggregate")
    with submission_errors():
        job = executor.submit(aggregate_job, records, str(sweep_dir), task, tracking)
    finished_by["job"] = {"job_id": str(job.job_id), "log": str(job.paths.stderr),
                          "dependency": f"afterany:{array}"}
    print(f"aggregate: SLURM job {job.job_id} after array {array} (CV aggregate and fold "
          f"ensemble on the cluster), log {job.paths.stderr}", flush=True)

    def wait() -> None:
        job.wait()
        try:
            finished_by["result"] = job.result()
            state = "completed"
        except Exception as exc:
            state = f"failed ({_error_line(str(exc))}); aggregating here instead"
        finished_by["job"]["status"] = state.split(" ")[0]
        print(f"aggregate: {state} (SLURM job {job.job_id})", flush=True)

    return wait


def _tag_parent(uri: str | None, parent: str | None, records: list[JobRecord]) -> None:
    """The SLURM job ids of a sweep's submitted jobs on its MLflow parent run (each child run
    has its own ``slurm_job_id``); a store that cannot be reached costs only the tag."""
    if parent is None or not records:
        return
    try:
        from socio_re.tracking.store import open_client

        open_client(uri).set_tag(parent, "slurm_job_ids",
                                 ",".join(r.job_id for r in records)[:5000])
    except Exception as exc:
        log.warning("could not tag MLflow parent run %s with the SLURM job ids: %s", parent, exc)


def _hydra_returns(records: list[JobRecord], results: dict) -> list:
    """Hydra's JobReturn per job, in order: the run's, or for a skipped job its earlier
    result (objective) from the done marker."""
    from hydra.core.utils import JobReturn, JobStatus

    for rec in records:
        if rec.num not in results:
            ret = JobReturn()
            ret.status = JobStatus.COMPLETED
            ret.return_value = rec.metrics.get("objective")
            ret.overrides = rec.overrides.split()
            results[rec.num] = ret
    return [results[r.num] for r in records]


def _plan_jobs(job_overrides, sweep_dir: Path, first_num: int,
               rerun: str) -> tuple[list[JobRecord], list[tuple[JobRecord, list[str]]]]:
    """A record per job, and the jobs to run with their overrides: all but those with a done
    marker (with ``sweep.rerun=all`` every job, its marker cleared)."""
    names = [job_dir_name(v) for v in _varying([list(o) for o in job_overrides])]
    records: list[JobRecord] = []
    to_run: list[tuple[JobRecord, list[str]]] = []
    for i, (job, name) in enumerate(zip(job_overrides, names, strict=True)):
        directory = sweep_dir / name
        rec = JobRecord(first_num + i, name, " ".join(job), str(directory))
        records.append(rec)
        state = job_state(directory)
        if state == "completed" and rerun == "unfinished":
            rec.status = "skipped"
            rec.metrics = (read_done(directory) or {}).get("metrics", {})
            continue
        if state == "completed":
            clear_done(directory)
        to_run.append((rec, list(job)))
    return records, to_run


def stop_after_ctrl_c(running: list[tuple[Any, JobRecord, list[int]]],
                      records: list[JobRecord]) -> None:
    """Ctrl-C: stop the local jobs (SLURM jobs keep running on the cluster); a re-run of the
    same command resumes them from their checkpoints. Jobs never launched say so: they have
    no log to point to."""
    for job, rec, _ in running:
        job.cancel(check=False)
        rec.status, rec.log = "interrupted", str(job.paths.stderr)
        rec.error = "exit 130: cancelled (Ctrl-C)"
    _wait_for_exit([job for job, _, _ in running], CANCEL_GRACE_S)
    for rec in records:
        if rec.status != "pending":
            continue
        if rec.log:  # submitted to SLURM: still queued or running there
            rec.status = "interrupted"
            rec.error = "exit 130: sweep stopped (Ctrl-C); the SLURM job may still run"
        else:
            rec.status = "not started"
            rec.error = "exit 130: sweep stopped by Ctrl-C before this job started"


def _wait_for_exit(jobs: list[Any], seconds: float) -> None:
    """Give cancelled jobs a moment to end (and close their own MLflow runs) before the runs
    still RUNNING are marked KILLED; a second Ctrl-C stops the wait."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(KeyboardInterrupt):
        while time.monotonic() < deadline and not all(job.done() for job in jobs):
            time.sleep(0.2)


def _write_summary(sweep_dir: Path, sweep_id: str, parent: str | None,
                   records: list[JobRecord], aggregate_job: dict | None = None) -> None:
    (sweep_dir / SUMMARY_FILE).write_text(json.dumps(
        {"sweep_id": sweep_id, "parent_run_id": parent, "jobs": [asdict(r) for r in records],
         **({"aggregate_job": aggregate_job} if aggregate_job else {})},
        indent=1, default=str) + "\n")
