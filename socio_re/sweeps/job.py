"""What runs inside one job of a sweep (a submitit job, here or on SLURM): compose the job's
config, pin its directory and sweep identity, run it, and on SLURM stop it cleanly when the
scheduler ends the job (the launcher side is in sweeps/launcher.py)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from socio_re.sweeps.state import SWEEP_LOG

log = logging.getLogger(SWEEP_LOG)

# Exit status of a job stopped by SIGTERM (scancel, scontrol requeue, preemption, the time limit).
SIGTERM_EXIT = 143


class JobExit(Exception):
    """A job ended with ``sys.exit(code)`` (a one-line user error, or a planned stop); raised
    instead so that submitit records it as the job's failure with the message."""

    def __init__(self, code: int, message: str):
        super().__init__(f"exit {code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JobInfo:
    """What the launcher tells each job beyond its overrides (pickled with the job)."""

    sweep_dir: str
    subdir: str  # the job's directory under sweep_dir, named after its own overrides
    sweep_id: str
    parent_run_id: str | None  # the sweep's MLflow parent run; None without one
    overrides: str
    threads: int | None = None  # OMP threads per process when jobs share this machine's cores


@dataclass
class SlurmEnding:
    """How the scheduler ended the job, once it did: the signal and the job's exit code; a
    SIGUSR2 that waits for the run's checkpoint keeps its requeue in ``deferred``."""

    signal: str | None = None
    code: int | None = None
    deferred: Callable[[], None] | None = None
    # submitit's SIGUSR2 handler is requeueing the job: the SIGTERM that the requeue itself
    # brings must not cut it short (it would before submitit says "Requeued job ...").
    requeueing: bool = False

    @property
    def ended(self) -> bool:
        return self.code is not None


def run_sweep_job(launcher, sweep_overrides: list[str], job_dir_key: str, job_num: int,
                  singleton_state: dict, job_info: JobInfo):
    """Compose the job's config, pin its directory and sweep identity, run it."""
    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    from socio_re.errors import ReportedExit
    from socio_re.sweeps.state import clear_job_exit, write_job_exit

    sweep_dir, name = Path(job_info.sweep_dir), job_info.subdir
    clear_job_exit(sweep_dir, name)  # a record of an earlier attempt says nothing about this one
    Singleton.set_state(singleton_state)
    setup_globals()
    env = submitit.JobEnvironment()
    # The job's submitit log, for the run's tags (its SLURM job id is in SLURM_* already).
    os.environ["SOCIO_RE_JOB_LOG"] = str(env.paths.stderr)
    if job_info.threads:
        # Concurrent local jobs share the cores: each gets its share, not all of them (set
        # before torch is imported; a multi-process job's ranks keep it too).
        os.environ.setdefault("OMP_NUM_THREADS", str(job_info.threads))
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config,
                                                                 sweep_overrides)
    with open_dict(cfg):
        cfg.hydra.job.id = env.job_id
        cfg.hydra.job.num = job_num
        # Fixed strings: re-resolving the interpolations here would see this job's overrides.
        cfg.hydra.sweep.dir = job_info.sweep_dir
        cfg.hydra.sweep.subdir = job_info.subdir
        cfg.sweep.id = job_info.sweep_id
        cfg.sweep.parent_run_id = job_info.parent_run_id
        cfg.sweep.job_num = job_num
        cfg.sweep.job_overrides = job_info.overrides
    ending = stop_on_slurm_signals() if env.cluster == "slurm" else SlurmEnding()
    try:
        ret = run_job(hydra_context=launcher.hydra_context, task_function=launcher.task_function,
                      config=cfg, job_dir_key=job_dir_key, job_subdir_key="hydra.sweep.subdir")
    except BaseException as exc:
        requeue_if_signalled(ending)  # the checkpoint asked for by SIGUSR2 is on disk
        if ending.ended:  # cancelled, requeued or preempted: no result, the scheduler's state tells
            raise SystemExit(ending.code) from None
        if not isinstance(exc, SystemExit):
            raise
        # The entry point's one-line errors end in sys.exit(code).
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            message = exc.line if isinstance(exc, ReportedExit) else f"exit code {code}"
            if env.cluster == "slurm" and requeue_after_lost_node(code, message, ending,
                                                                  sweep_dir, name):
                raise SystemExit(SIGTERM_EXIT) from None  # no result: the requeued job has it
            write_job_exit(sweep_dir, name, code, message)
            raise JobExit(code, message) from None
        raise
    # Signalled after its training ended: the run finished, no requeue needed.
    ending.deferred = None
    if ending.ended:
        raise SystemExit(ending.code)
    return ret


def stop_on_slurm_signals() -> SlurmEnding:
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
    only then does submitit requeue the job (:func:`requeue_if_signalled`). Otherwise (still
    loading, or evaluating after training) submitit requeues at once.

    Either way the job ends without a result file, so the launcher goes by the scheduler's
    state: CANCELLED (interrupted, resumable) or requeued (it keeps waiting for the next
    attempt). Returns the :class:`SlurmEnding` the handlers fill in."""
    import signal

    from socio_re.training import preemption

    ending = SlurmEnding()
    preemption.reset()

    def on_sigterm(signum, frame):
        if ending.requeueing:  # our own requeue's SIGTERM: submitit exits once it is done
            ending.signal, ending.code = "SIGUSR2", SIGTERM_EXIT
            return
        if not ending.ended:
            ending.signal, ending.code = "SIGTERM", SIGTERM_EXIT
            log.warning("SIGTERM from SLURM (job cancelled, requeued, preempted or out of time): "
                        "stopping; a re-run or the requeued job resumes from the newest "
                        "checkpoint")
            raise KeyboardInterrupt

    usr2 = signal.getsignal(signal.SIGUSR2)

    def requeue(signum, frame):
        ending.requeueing = True
        try:
            if callable(usr2):
                usr2(signum, frame)  # submitit: checkpoint, scontrol requeue, sys.exit(-1)
        except SystemExit:
            ending.signal, ending.code = "SIGUSR2", SIGTERM_EXIT
            raise KeyboardInterrupt from None
        finally:
            ending.requeueing = False

    def on_usr2(signum, frame):
        if ending.ended or ending.deferred is not None:
            return
        if preemption.can_checkpoint():
            preemption.request("SIGUSR2")
            ending.deferred = lambda: requeue(signum, frame)
            log.warning("SIGUSR2 from SLURM (time limit or preemption ahead): the run saves a "
                        "checkpoint at the end of its current step, then the job is requeued")
            return
        requeue(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGUSR2, on_usr2)
    return ending


# A job requeues itself after losing a node at most this often (then it fails with the line).
MAX_NODE_LOSS_REQUEUES = 3


def requeue_after_lost_node(code: int, message: str, ending: SlurmEnding, sweep_dir: Path,
                            name: str) -> bool:
    """A job on several nodes whose ranks stopped because a node died (``NodeLost``, exit 75):
    record the event (one line for the sweep's summary, naming the node), and requeue the job
    (``scontrol requeue``, as submitit does on a time limit). SLURM starts it again when it has
    the nodes (not on a node it has marked down), and it resumes from its newest complete
    checkpoint. True when requeued; False (the job then fails with ``message``) for another
    error, after :data:`MAX_NODE_LOSS_REQUEUES` requeues, or when SLURM refuses."""
    import subprocess

    from socio_re.launch.nodes import NodeLost
    from socio_re.sweeps.state import add_job_event

    if code != NodeLost.exit_code or ending.ended:
        return False
    job = os.environ.get("SLURM_JOB_ID", "")
    attempt = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    line = message.removeprefix("error: ")
    if attempt >= MAX_NODE_LOSS_REQUEUES:
        add_job_event(sweep_dir, name, f"attempt {attempt + 1}: {line}; not requeued again "
                                       f"(requeued {attempt} times already)", key=attempt)
        return False
    ending.requeueing = True  # the SIGTERM our requeue brings is expected
    try:
        out = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        out = None
        why = str(exc)
    else:
        why = out.stderr.strip() or f"exit {out.returncode}"
    if out is None or out.returncode != 0:
        ending.requeueing = False
        add_job_event(sweep_dir, name, f"attempt {attempt + 1}: {line}; the requeue failed "
                                       f"({why})", key=attempt)
        return False
    add_job_event(sweep_dir, name, f"attempt {attempt + 1}: {line}; requeued (SLURM job {job}), "
                                   "resumes from the newest complete checkpoint", key=attempt)
    log.warning("%s: requeued SLURM job %s; it resumes from the newest complete checkpoint",
                line, job)
    ending.signal, ending.code = "requeue", SIGTERM_EXIT
    return True


def requeue_if_signalled(ending: SlurmEnding) -> None:
    """After the run ended (stopped at its checkpoint, or finished): the requeue a SIGUSR2 asked
    for. submitit's handler requeues the job and exits; ``ending`` then says so."""
    deferred, ending.deferred = ending.deferred, None
    if deferred is not None and not ending.ended:
        with contextlib.suppress(KeyboardInterrupt):  # raised once ending says so
            deferred()
