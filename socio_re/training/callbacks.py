"""Trainer callbacks: step metrics to the tracker, the checkpoint completeness marker,
compact progress (saving and stopping on a signal or at a step: training/preemption.py)."""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback


class TrackerCallback(TrainerCallback):
    """Send every Trainer log (loss, lr, grad norm, eval loss) to the tracker, from rank 0."""

    def __init__(self, tracker):
        self.tracker = tracker

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        numeric = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        # Distinguish step curves from the final metrics logged after evaluation.
        self.tracker.log_metrics({f"train/{k}" if not k.startswith("eval_") else
                                  f"val/{k[5:]}": v for k, v in numeric.items()},
                                 step=state.global_step)


class CompletenessMarkerCallback(TrainerCallback):
    """After every checkpoint save: wait for all ranks' writes (sharded formats write on every
    rank), then rank 0 writes the marker."""

    def on_save(self, args, state, control, **kwargs):
        import torch.distributed as dist

        ranks = None
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            if dist.get_world_size() > 1:
                import socket

                # Which host wrote which rank's part: a sharded checkpoint of a job on several
                # nodes holds every node's shards, and the marker says whose.
                hosts: list = [None] * dist.get_world_size()
                dist.all_gather_object(hosts, socket.gethostname())
                ranks = {str(r): h for r, h in enumerate(hosts)}
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and path.is_dir():
            from socio_re.training.checkpoints import write_marker

            write_marker(path, state.global_step, ranks)
        return control


def _fmt(key: str, value: float) -> str:
    if key in ("learning_rate",):
        return f"{value:.2e}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# Keys worth a column in the console line; everything still goes to the tracker.
_SHOWN = ("loss", "eval_loss", "grad_norm", "learning_rate", "epoch", "train_tokens_per_second")


def _shown(key: str) -> bool:
    if key.startswith("eval_"):  # eval loss and task metrics, not eval timings
        return not key.endswith(("runtime", "per_second"))
    return key in _SHOWN


class CompactProgressCallback(ProgressCallback):
    """Trainer's progress bars, with one readable line per log instead of a printed dict."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or self.training_bar is None:
            return
        parts = [f"step {state.global_step}/{state.max_steps}"]
        parts += [f"{k.replace('train_tokens_per_second', 'tok/s')} {_fmt(k, v)}"
                  for k, v in logs.items() if _shown(k) and isinstance(v, (int, float))]
        self.training_bar.write(" | ".join(parts))


def use_compact_progress(trainer) -> None:
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(CompactProgressCallback())
