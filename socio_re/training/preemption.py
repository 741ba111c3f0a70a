"""Checkpoint on the scheduler's warning: SLURM sends SIGUSR2 ``signal_delay_s`` seconds before
a job's time limit (and on preemption where the cluster is set up to signal first).

Without this, a requeued job resumes from the newest *periodic* checkpoint and the steps since
then are lost: up to ``trainer.save_steps`` steps per time limit, so a run longer than the limit
that saves rarely never finishes. With it, the signal only sets a flag; at the end of the step
in progress the trainer saves a complete checkpoint and stops, and then the job is requeued
(``sweeps/job.py``), so the requeued job continues from exactly where this one stopped.

The flag is per process. In a multi-process job every rank receives the signal itself (SLURM
signals all processes of the job's steps, the ranks the job started included), and the ranks
agree on the step to stop at with one all-reduce of the flag per step, so that all of them save
the same step (sharded checkpoints are written by every rank); the all-reduce runs only inside
a SLURM job, where such a signal can come.
"""

from __future__ import annotations

import logging
import os
import signal
from contextlib import contextmanager

from transformers import TrainerCallback

log = logging.getLogger(__name__)

# Why the run should checkpoint and stop (the signal's name), or None.
_requested: str | None = None
# Trainers training in this process, and whether this process waits for ranks it started:
# while either is true a signal can be turned into a checkpoint, so the requeue waits for it.
_training = 0
_ranks_running = False


def request(reason: str) -> None:
    """Ask the training in progress (here, or in the ranks) to checkpoint and stop."""
    global _requested
    _requested = _requested or reason


def requested() -> str | None:
    return _requested


def reset() -> None:
    """Forget a request and the training state (a new job in the same process; tests)."""
    global _requested, _training, _ranks_running
    _requested, _training, _ranks_running = None, 0, False


def can_checkpoint() -> bool:
    """True while a signal can still become a checkpoint: a trainer trains in this process, or
    this process waits for the ranks it started (each trains and gets the signal itself)."""
    return _training > 0 or _ranks_running


@contextmanager
def ranks_running():
    """Around the wait for this job's ranks (launch/spawn.py)."""
    global _ranks_running
    _ranks_running = True
    try:
        yield
    finally:
        _ranks_running = False


def in_slurm_job() -> bool:
    return bool(os.environ.get("SLURM_JOB_ID"))


def install_rank_handler() -> None:
    """In a rank of a SLURM job: SIGUSR2 asks for a checkpoint (its default action would kill
    the rank at once, losing the steps since the last save)."""
    if in_slurm_job():
        signal.signal(signal.SIGUSR2, lambda signum, frame: request("SIGUSR2"))


class SaveAndStopCallback(TrainerCallback):
    """Save a checkpoint and stop training at the end of a step: at ``step`` (trainer.stop_at_step,
    a simulated preemption the tests resume from) or when the scheduler warned (:func:`request`).

    Only a run that started before ``step`` stops there: running the same command again resumes
    from that checkpoint and finishes, like a killed job that is simply started again.
    ``stopped`` says whether it stopped the run, ``reason`` why."""

    def __init__(self, step: int | None = None):
        self.step = step
        self.start = 0
        self.stopped = False
        self.reason = ""
        self._agree = False  # all-reduce the flag over the ranks at each step end

    def on_train_begin(self, args, state, control, **kwargs):
        global _training
        _training += 1
        self.start = state.global_step  # > 0 when resumed from a checkpoint
        self._agree = args.world_size > 1 and in_slurm_job()

    def on_train_end(self, args, state, control, **kwargs):
        global _training
        _training = max(0, _training - 1)

    def on_step_end(self, args, state, control, **kwargs):
        signalled = self._signalled(args)
        at_step = self.step is not None and self.start < self.step <= state.global_step \
            < state.max_steps
        if signalled or at_step:
            control.should_save = True
            control.should_training_stop = True
            self.stopped = True
            self.reason = signalled or f"trainer.stop_at_step={self.step}"
            if signalled:
                log.warning("%s from SLURM: saving a checkpoint at step %d, then the job is "
                            "requeued and resumes from it", signalled, state.global_step)
        return control

    def _signalled(self, args) -> str | None:
        if not self._agree:
            return _requested
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1 if _requested else 0], device=args.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return (_requested or "SIGUSR2") if flag.item() else None
