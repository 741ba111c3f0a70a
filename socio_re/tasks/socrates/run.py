"""socrates end to end: data → model → SFT → save → evaluate."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from socio_re.config.schema import RunConfig
from socio_re.tasks.result import TaskResult

log = logging.getLogger(__name__)

def load_model_for_training(rc: RunConfig):
    from socio_re.models.load import (
        apply_finetune_method,
        count_parameters,
        load_causal_lm,
        load_tokenizer,
        resolve_model_path,
    )

    path = resolve_model_path(rc.model)
    tokenizer = load_tokenizer(rc.model, path)
    model = load_causal_lm(rc.model, tokenizer, path)
    model = apply_finetune_method(model, rc.model, rc.finetune)
    trainable, total = count_parameters(model)
    log.info("model %s (%s): %.2fM parameters, %.2fM trainable (%s)", rc.model.name, path,
             total / 1e6, trainable / 1e6, rc.finetune.method)
    return model, tokenizer


def train(rc: RunConfig, run_dir: Path, model, tokenizer, datasets, tracker):
    """Fit with the HF Trainer; returns (trainer, interrupted)."""
    from transformers import Trainer

    from socio_re.training.arguments import training_arguments
    from socio_re.training.callbacks import (
        StopAtStepCallback,
        TrackerCallback,
        use_compact_progress,
    )
    from socio_re.training.checkpoints import resolve_resume
    from socio_re.training.collate import CausalLMCollator

    has_eval = len(datasets["val"]) > 0
    args = training_arguments(rc, run_dir, world_size=rc.strategy.num_processes,
                              has_eval=has_eval)
    callbacks = [TrackerCallback(tracker)]
    stopper = None
    if rc.trainer.stop_at_step:
        stopper = StopAtStepCallback(rc.trainer.stop_at_step)
        callbacks.append(stopper)
    if rc.trainer.gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()  # LoRA + checkpointing needs grads at the inputs
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["val"] if has_eval else None,
        data_collator=CausalLMCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    use_compact_progress(trainer)
    resume_from = resolve_resume(rc.resume, Path(args.output_dir))
    if resume_from:
        log.info("resuming from %s", resume_from)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    return trainer, bool(stopper and stopper.stopped)


def _train_metrics(trainer) -> dict[str, float]:
    """Loss at the first and last logged steps, the final eval loss, throughput."""
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    out = {"train/global_step": trainer.state.global_step}
    if losses:
        out["train/first_loss"], out["train/last_loss"] = losses[0], losses[-1]
    if evals:
        out["val/loss"] = evals[-1]
    for h in history:
        if "train_runtime" in h:
            out["train/runtime_s"] = h["train_runtime"]
            out["train/samples_per_second"] = h.get("train_samples_per_second", 0.0)
    return out


def run(rc: RunConfig, run_dir: Path, tracker) -> TaskResult:
    from socio_re.tasks.socrates.data import prepare_splits, tokenized_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame, rows_to_score

    result = TaskResult()
    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    manifest_path = run_dir / "split_manifest.json"
    manifest_path.write_text(json.dumps({**prepared.manifest, "clean_report": prepared.report},
                                        indent=1, default=str) + "\n")
    result.artifacts["split_manifest"] = manifest_path

    model, tokenizer = load_model_for_training(rc)
    metrics: dict = {}
    if rc.train:
        datasets, token_stats = tokenized_splits(prepared, tokenizer, rc.task, rc.paths.cache_dir)
        trainer, interrupted = train(rc, run_dir, model, tokenizer, datasets, tracker)
        if interrupted:
            result.interrupted = True
            return result
        metrics.update(_train_metrics(trainer))
        metrics["train/rows"] = token_stats["train"]["kept"]
        final = run_dir / "model"
        if final.exists():
            shutil.rmtree(final)
        trainer.save_model(str(final))  # LoRA: the adapter; full: the whole model (safetensors)
        tokenizer.save_pretrained(str(final))
        result.paths["model"] = final
        result.paths["checkpoints"] = run_dir / "checkpoints"
        model = trainer.model

    if rc.evaluate:
        split = rc.task.eval.split
        frame = rows_to_score(prepared.frames[split], rc.task.eval.max_rows, rc.task.eval.seed)
        log.info("scoring %d %s rows (%s decoding)", len(frame), split, rc.task.eval.decoding)
        eval_metrics, files = evaluate_frame(model, tokenizer, frame, rc.task, run_dir,
                                             prefix=split)
        metrics.update(eval_metrics)
        result.artifacts.update(files)
        metrics["objective"] = eval_metrics.get(f"{split}/wasserstein")
    result.metrics = metrics
    return result
