"""The local scheduler: a sweep's jobs on this machine, ``sweep.max_parallel`` at a time (null:
as many as the CPU cores or GPUs fit), concurrent jobs on distinct GPUs while free ones last;
Ctrl-C stops the running jobs."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from socio_re.sweeps.plan import PlannedJob, explicit_max_parallel
from socio_re.sweeps.state import SWEEP_LOG, JobRecord

log = logging.getLogger(SWEEP_LOG)

# After Ctrl-C, how long cancelled local jobs get to exit (and close their own MLflow runs)
# before the launcher marks the runs still RUNNING as KILLED.
CANCEL_GRACE_S = 10.0


class RunningJob(NamedTuple):
    """A submitted local job, its record and the GPUs it holds (a tuple: callers unpack it)."""

    job: Any  # submitit's LocalJob
    record: JobRecord
    gpus: list[int]


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


def threads_per_process(cfg, slots: int, gpus: list[int]) -> int | None:
    """OMP threads per process when jobs run side by side on this machine's CPU cores (None:
    one job at a time, or jobs on GPUs, keep the default)."""
    if gpus or slots <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // (slots * max(1, processes_per_job(cfg) or 2)))


def pick_gpus(load: dict[int, int], n: int) -> list[int]:
    """The ``n`` GPUs running the fewest jobs now (the lowest ids first among equals): distinct
    free GPUs while they last, shared ones only when sweep.max_parallel asks for more jobs."""
    return sorted(load, key=lambda gpu: load[gpu])[:n]


def run_here(launcher, executor, pending: list[PlannedJob], running: list[RunningJob],
             params: Callable[[PlannedJob], tuple], slots: int, gpus: list[int],
             gpus_per_job: int, collect: Callable[[Any, JobRecord], None]) -> None:
    """This machine: ``slots`` jobs at a time, each on its own GPUs when there are any (shared
    only when more jobs than fit were asked for); ``running`` is shared with the caller (a
    Ctrl-C stops what is in it)."""
    load = dict.fromkeys(gpus, 0)  # jobs running on each GPU
    while pending or running:
        while pending and len(running) < slots:
            planned = pending.pop(0)
            rec = planned.record
            ids = pick_gpus(load, gpus_per_job) if gpus_per_job else []
            for gpu in ids:
                load[gpu] += 1
            if gpus_per_job:
                executor.update_parameters(gpus_per_node=gpus_per_job, visible_gpus=ids)
            running.append(RunningJob(executor.submit(launcher, *params(planned)), rec, ids))
            rec.job_id = str(running[-1].job.job_id)
            log.info("started job #%d %s", rec.num, rec.name)
        time.sleep(0.5)
        for item in [r for r in running if r.job.done()]:
            running.remove(item)
            collect(item.job, item.record)
            for gpu in item.gpus:
                load[gpu] -= 1
            print(f"job #{item.record.num} {item.record.name}: {item.record.status}", flush=True)


def stop_after_ctrl_c(running: list[RunningJob], records: list[JobRecord]) -> None:
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
