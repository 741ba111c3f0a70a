"""One training run's engine glue, the same for every task: arguments before or after the model
(as the engine needs), the Trainer, fit, the stop check, train metrics, the export, the rank-0
hand-off and the model rank 0 scores. A task brings its data, model, collator, metrics and
evaluation; no heavy imports at module level.

    life = TrainingLifecycle(rc, run_dir, tracker, has_eval=...)
    model = life.load_model(build)        # TrainingArguments first under DeepSpeed
    trainer = life.fit(model, train_dataset=..., data_collator=...)
    if life.interrupted: ...              # saved and stopped: the job is requeued
    metrics = life.train_metrics()
    final = life.export(run_dir / "model")
    scored = life.scoring_model(reload)   # None on the other ranks: they are done
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from socio_re.training.engine import Engine


class TrainingLifecycle:
    """``has_eval``: the run has validation data (known before the model, for arguments built
    first); ``arg_overrides``: the task's TrainingArguments extras (best model, loss
    averaging, ...)."""

    def __init__(self, rc, run_dir: Path, tracker, *, has_eval: bool, **arg_overrides: Any):
        self.rc = rc
        self.run_dir = Path(run_dir)
        self.tracker = tracker
        self.engine = Engine.from_strategy(rc.strategy)
        self.has_eval = has_eval
        self.arg_overrides = arg_overrides
        self.args = None
        self.trainer = None
        self.interrupted = False
        self.restored_step: int | None = None

    def _arguments(self, has_eval: bool, model=None):
        from socio_re.training.arguments import training_arguments

        return training_arguments(self.rc, self.run_dir, has_eval=has_eval, model=model,
                                  **self.arg_overrides)

    def load_model(self, build: Callable[[], Any]) -> Any:
        """``build()``'s result; a training run under DeepSpeed builds its arguments first
        (ZeRO-3 partitions the weights while they load: its config must exist by then)."""
        if self.rc.train and self.engine.args_before_model:
            self.args = self._arguments(self.has_eval)
        return build()

    def fit(self, model, *, train_dataset, eval_dataset=None, data_collator,
            compute_metrics=None, processing_class=None, keeper=None):
        """Train ``model`` (from the newest complete checkpoint when ``rc.resume`` says so);
        returns the Trainer. ``interrupted`` tells whether the stopper saved and stopped (no
        metrics or export then). ``keeper`` (a best-weights callback) puts its best weights
        back into the model after training."""
        from socio_re.training.fit import fit, run_callbacks
        from socio_re.training.trainer import SocioTrainer

        # Under FSDP the wrap unit is derived from the model: arguments built after it.
        args = self.args or self._arguments(eval_dataset is not None, model=model)
        callbacks, stopper = run_callbacks(self.rc, self.tracker)
        callbacks += [keeper] if keeper else []
        self.trainer = SocioTrainer(model=model, args=args, train_dataset=train_dataset,
                                    eval_dataset=eval_dataset, data_collator=data_collator,
                                    processing_class=processing_class,
                                    compute_metrics=compute_metrics, callbacks=callbacks)
        fit(self.trainer, self.rc.resume, self.run_dir, self.tracker)
        self.interrupted = bool(stopper and stopper.stopped)
        if keeper and not self.interrupted:
            self.restored_step = keeper.restore(self.trainer.model)  # collective: every rank
        return self.trainer

    def train_metrics(self, *, eval_loss: bool = True, runtime: bool = True,
                      best_step: bool = True) -> dict:
        """:func:`train_metrics` of the fitted Trainer (options: which metrics the task logs)."""
        return train_metrics(self.trainer, restored_step=self.restored_step,
                             eval_loss=eval_loss, runtime=runtime, best_step=best_step)

    def export(self, final: Path, *, save_fn=None, tokenizer=None) -> Path:
        """The trained model in ``final`` as a plain directory, from whatever engine ran;
        every rank calls it (gathering is collective). ``save_fn(model, directory, state)``
        overrides how rank 0 writes it; ``tokenizer`` is saved next to it by rank 0."""
        self.engine.export(self.trainer, final, save_fn=save_fn)
        if tokenizer is not None and self.trainer.is_world_process_zero():
            tokenizer.save_pretrained(str(final))
        return final

    @property
    def world_size(self) -> int:
        return self.trainer.args.world_size

    @property
    def done_here(self) -> bool:
        """This process is a rank other than 0 of a multi-process run: rank 0 scores, the
        others are done after the export."""
        return self.world_size > 1 and not self.trainer.is_world_process_zero()

    def scoring_model(self, reload: Callable[[], Any], trained: Any = None) -> Any:
        """What rank 0 scores: None on the other ranks (``done_here``). ``trained`` (the model
        in memory) when given and the run had one process; else ``reload()`` of the export, in
        this one process, after leaving the distributed context (sharded engines hold pieces
        of the weights on each rank)."""
        if self.done_here:
            return None
        if trained is not None and self.world_size == 1:
            return trained
        self.engine.leave_distributed_context()
        return reload()

    def release(self) -> None:
        """Drop the Trainer (and so its model): before another model loads, hold one."""
        self.trainer = None


def train_metrics(trainer, *, restored_step: int | None = None, eval_loss: bool = True,
                  runtime: bool = True, best_step: bool = True) -> dict:
    """From the Trainer's log history: ``train/global_step``, the loss at the first and last
    logged steps; with ``eval_loss`` the final ``val/loss``; with ``runtime`` the train runtime
    and throughput; with ``best_step`` the step whose weights the model now holds
    (``restored_step`` of a keeper, else the Trainer's best checkpoint)."""
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    out: dict = {"train/global_step": trainer.state.global_step}
    if losses:
        out["train/first_loss"], out["train/last_loss"] = losses[0], losses[-1]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    if eval_loss and evals:
        out["val/loss"] = evals[-1]
    for h in history if runtime else ():
        if "train_runtime" in h:
            out["train/runtime_s"] = h["train_runtime"]
            out["train/samples_per_second"] = h.get("train_samples_per_second", 0.0)
    if best_step:
        if restored_step is not None:
            out["train/best_step"] = restored_step
        elif trainer.state.best_model_checkpoint:
            out["train/best_step"] = int(trainer.state.best_model_checkpoint.rsplit("-", 1)[-1])
    return out


def best_model_selection(engine: Engine, checkpoints: Path, metric: str,
                         greater_is_better: bool = True) -> tuple[dict, Any]:
    """How the best checkpoint by ``metric`` comes back at the end: the Trainer's
    load_best_model_at_end arguments, or, under FSDP, a keeper callback (the Trainer's reload
    of a sharded checkpoint fails under FSDP2 on CPU; the keeper gathers the best weights
    itself and restores them before export). Returns (TrainingArguments extras, keeper)."""
    if engine.is_fsdp:
        from socio_re.training.best_weights import BestWeightsCallback

        return {}, BestWeightsCallback(checkpoints, metric, greater_is_better)
    return {"load_best_model_at_end": True, "metric_for_best_model": metric,
            "greater_is_better": greater_is_better}, None
