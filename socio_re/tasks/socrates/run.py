"""socrates end to end: data → model → SFT → save → evaluate."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from socio_re.config.schema import RunConfig
from socio_re.tasks.result import TaskResult

log = logging.getLogger(__name__)


# The hub organisation of the SOCRATES release: its models are fine-tuned on SocSci210.
SOCSCI_TRAINED_MARKERS = ("socratesft/", "socrates")


def contamination_warning(rc: RunConfig) -> str | None:
    """A warning when a model already fine-tuned on SocSci210 is only scored (``train=false``)
    on a split the project drew itself: that split's test studies were chosen without knowing
    which studies the model trained on, so most may be among them. ``None`` otherwise.

    "Fine-tuned on SocSci210": ``model.trained_on`` names it, or the model's name or path
    contains ``socrates`` (the release's hub organisation is ``socratesft``)."""
    if rc.train or rc.data.split.kind == "official":
        return None
    known = {d.lower() for d in rc.model.trained_on}
    name = f"{rc.model.name} {rc.model.name_or_path}".lower()
    if "socsci210" not in known and not any(m in name for m in SOCSCI_TRAINED_MARKERS):
        return None
    return (f"model {rc.model.name} was fine-tuned on SocSci210, and data.split.kind="
            f"{rc.data.split.kind} is not the paper's split: its test studies may be in the "
            f"model's training data; score it with data.split.kind=official "
            f"data.split.official=studies for held-out numbers")


def prepare_shared(rc: RunConfig) -> None:
    """Everything the ranks share, built once in this process before they start: the split, the
    model files (an offline model is built; a hub model's config and tokenizer must load) and
    the tokenized training data. A mistake here fails the run before it is tracked."""
    from socio_re.models.load import check_model_loads, load_tokenizer
    from socio_re.tasks.socrates.data.prepared import prepare_splits, tokenized_splits

    prepared = prepare_splits(rc.data, rc.paths.cache_dir)  # a wrong data path is named first
    path = check_model_loads(rc.model)
    if rc.train:
        tokenized_splits(prepared, load_tokenizer(rc.model, path), rc.task, rc.paths.cache_dir)


def data_splits(rc: RunConfig) -> tuple[Path, dict[str, list[Path]]]:
    """The split folder the run reads and each split's parquet parts (its provenance).
    Nothing is read or built."""
    from socio_re.tasks.socrates.data.prepare import split_parts
    from socio_re.tasks.socrates.data.prepared import SPLITS, split_directory

    root = split_directory(rc.data, rc.paths.cache_dir)
    return root, {s: split_parts(root / s) for s in SPLITS}


def load_model_for_training(rc: RunConfig):
    from socio_re.models.load import (
        apply_finetune_method,
        count_parameters,
        load_causal_lm,
        load_tokenizer,
        prepare_quantized,
        resolve_model_path,
    )

    path = resolve_model_path(rc.model)
    tokenizer = load_tokenizer(rc.model, path)
    model = load_causal_lm(rc.model, tokenizer, path, strategy=rc.strategy)
    model = prepare_quantized(model, rc.strategy, rc.trainer.gradient_checkpointing)
    model = apply_finetune_method(model, rc.model, rc.finetune)
    trainable, total = count_parameters(model)
    log.info("model %s (%s): %.2fM parameters, %.2fM trainable (%s)", rc.model.name, path,
             total / 1e6, trainable / 1e6, rc.finetune.method)
    return model, tokenizer


def collator_of(rc: RunConfig, tokenizer):
    """Packed rows (``trainer.packing``) or dynamic right padding."""
    from socio_re.training.collate import CausalLMCollator
    from socio_re.training.packing import PackedCausalLMCollator

    if rc.trainer.packing:
        return PackedCausalLMCollator()
    return CausalLMCollator(tokenizer.pad_token_id)


def train(life, rc: RunConfig, model, tokenizer, datasets):
    """Fit with the HF Trainer through the shared lifecycle; returns the Trainer."""
    if rc.trainer.gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()  # LoRA + checkpointing needs grads at the inputs
    has_eval = len(datasets["val"]) > 0
    return life.fit(model, train_dataset=datasets["train"],
                    eval_dataset=datasets["val"] if has_eval else None,
                    data_collator=collator_of(rc, tokenizer), processing_class=tokenizer)


def run(rc: RunConfig, run_dir: Path, tracker) -> TaskResult:
    from socio_re.tasks.socrates.data.prepared import prepare_splits, tokenized_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame
    from socio_re.training.lifecycle import TrainingLifecycle

    result = TaskResult()
    warning = contamination_warning(rc)
    if warning:
        log.warning(warning)
        tracker.set_tags({"warning": warning})
    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    manifest_path = run_dir / "split_manifest.json"
    manifest_path.write_text(json.dumps({**prepared.manifest, "clean_report": prepared.report},
                                        indent=1, default=str) + "\n")
    result.artifacts["split_manifest"] = manifest_path

    life = TrainingLifecycle(rc, run_dir, tracker, has_eval=prepared.rows("val") > 0)
    model, tokenizer = life.load_model(lambda: load_model_for_training(rc))
    metrics: dict = {}
    if rc.train:
        datasets, token_stats = tokenized_splits(prepared, tokenizer, rc.task, rc.paths.cache_dir)
        trainer = train(life, rc, model, tokenizer, datasets)
        if life.interrupted:
            result.interrupted = True
            return result
        metrics.update(life.train_metrics(best_step=False))
        metrics["train/rows"] = token_stats["train"]["kept"]
        final = life.export(run_dir / "model", tokenizer=tokenizer)
        result.paths["model"] = final
        result.paths["checkpoints"] = run_dir / "checkpoints"
        # Sharded engines (FSDP, ZeRO-3) hold pieces of the weights on each rank: rank 0 scores
        # the exported model, in one process, exactly as `socio_re.cli.evaluate` would.
        from socio_re.models.load import load_trained

        scored = life.scoring_model(lambda: load_trained(rc, final),
                                    trained=(trainer.model, tokenizer))
        del trainer
        if scored is None:
            result.metrics = metrics
            return result  # rank 0 scores; the others are done
        model, tokenizer = scored

    if rc.evaluate:
        split = rc.task.eval.split
        frame = prepared.sample(split, rc.task.eval.max_rows, rc.task.eval.seed)
        log.info("scoring %d %s rows (%s decoding)", len(frame), split, rc.task.eval.decoding)
        eval_metrics, files = evaluate_frame(model, tokenizer, frame, rc.task, run_dir,
                                             prefix=split)
        metrics.update(eval_metrics)
        result.artifacts.update(files)
        if rc.train and rc.task.eval.compare_base:
            del model  # the base model is loaded next: hold one model at a time
            life.release()
            base_metrics, base_files = score_base_model(rc, frame, run_dir)
            metrics.update(base_metrics)
            result.artifacts.update(base_files)
        table_metrics, table_files, result.report = paper_table_of_run(rc, metrics, run_dir)
        metrics.update(table_metrics)
        result.artifacts.update(table_files)
    result.metrics = {**metrics, "objective": selection_objective(metrics)}
    return result


BASE_DIR = "base_model"


def score_base_model(rc: RunConfig, frame, run_dir: Path) -> tuple[dict, dict[str, Path]]:
    """The untrained model (``model.name_or_path``, zero-shot) on the same rows with the same
    decoding and seed: the paper's "base model" row. Metrics as ``base/<split>/<name>``; its
    tables in ``<run_dir>/base_model/``."""
    from socio_re.models.load import load_base_model
    from socio_re.tasks.socrates.evaluate import evaluate_frame

    split = rc.task.eval.split
    log.info("scoring the base model %s zero-shot on the same %d %s rows", rc.model.name,
             len(frame), split)
    model, tokenizer = load_base_model(rc.model)
    named, files = evaluate_frame(model, tokenizer, frame, rc.task, run_dir / BASE_DIR,
                                  prefix=split)
    return ({f"base/{k}": v for k, v in named.items()},
            {f"base_{k}": v for k, v in files.items()})


def paper_table_of_run(rc: RunConfig, metrics: dict, run_dir: Path):
    """The run's Table 2 (uniform, base model, this model) from the scored split's tables:
    written as ``paper_table.csv``/``.md``, its Markdown returned for the summary, and the
    improvement over the base model (paired bootstrap over studies) as metrics."""
    import pandas as pd

    from socio_re.tasks.socrates.paper_table import (
        TableEntry,
        caption_of,
        paper_table,
        table_markdown,
        unprefixed,
        write_table,
    )

    split = rc.task.eval.split
    entries = []
    base_per_study = run_dir / BASE_DIR / f"{split}_per_study.csv"
    if base_per_study.exists():
        entries.append(TableEntry(f"base model: {rc.model.name} (zero-shot)",
                                  unprefixed(metrics, f"base/{split}"),
                                  pd.read_csv(base_per_study, dtype={"study_id": str}), "base"))
    label = f"{rc.model.name}, fine-tuned (this run)" if rc.train else f"{rc.model.name}"
    entries.append(TableEntry(label, unprefixed(metrics, split),
                              pd.read_csv(run_dir / f"{split}_per_study.csv",
                                          dtype={"study_id": str})))
    table = paper_table(entries, seed=rc.task.eval.seed)
    caption = caption_of(split, rc.data.split.kind, int(metrics.get(f"{split}/n_rows", 0)),
                         int(metrics.get(f"{split}/n_studies", 0)), rc.task.eval.decoding)
    files = write_table(table, run_dir, caption)
    out = {}
    mine = table.iloc[-1]
    if entries[0].kind == "base":
        out = {f"{split}/relative_improvement_vs_base": mine["rel_vs_base"],
               f"{split}/relative_improvement_vs_base/ci_low": mine["rel_vs_base_ci_low"],
               f"{split}/relative_improvement_vs_base/ci_high": mine["rel_vs_base_ci_high"]}
    return ({k: float(v) for k, v in out.items()}, files,
            table_markdown(table, f"SOCRATES Table 2 — {caption}"))


def selection_objective(metrics: dict) -> float | None:
    """What sweeps, ``compare`` and Hydra rank runs by: validation data only, never test.
    The validation W1 when the validation split was scored (``task.eval.split=val``), else the
    final model's validation loss; lower is better for both."""
    return metrics.get("val/wasserstein", metrics.get("val/loss"))
