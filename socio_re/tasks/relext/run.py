"""relext for one fold: data → folds → markers → pair classifier → train → score → outputs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from socio_re.config.schema import RunConfig
from socio_re.tasks.result import TaskResult

log = logging.getLogger(__name__)


def class_weights_of(label_ids: list[int], num_labels: int) -> list[float]:
    """Inverse frequency, normalised to mean 1 over the classes present."""
    counts = np.bincount(np.asarray(label_ids), minlength=num_labels).astype(float)
    weights = np.where(counts > 0, counts.sum() / (num_labels * np.maximum(counts, 1)), 0.0)
    present = weights > 0
    weights[present] /= weights[present].mean()
    return weights.tolist()


def cap_rows(instances: list, max_rows: int | None, seed: int) -> list:
    """All instances, or a deterministic sample of ``max_rows`` in the original order."""
    if max_rows is None or len(instances) <= max_rows:
        return instances
    import random

    keep = sorted(random.Random(seed).sample(range(len(instances)), max_rows))
    return [instances[i] for i in keep]


def compute_metrics_fn(labels: tuple[str, ...], novelty: str = "none"):
    """The Trainer's validation metrics (type level; novelty is scored after training, from the
    final predictions). ``novelty=joint``: classes and gold ids are (type, novelty) pairs,
    summed / mapped back to types first."""
    from socio_re.tasks.relext.metrics import relext_metrics
    from socio_re.tasks.relext.novelty import joint_to_type, split_joint

    def compute(eval_pred):
        logits, gold = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):  # (logits, novelty_logits) with a novelty head
            logits = logits[0]
        if novelty == "joint":
            shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
            logits = split_joint(shifted / shifted.sum(axis=-1, keepdims=True))[0]
            gold = joint_to_type(gold)
        m = relext_metrics(list(gold), list(np.argmax(logits, axis=-1)), labels)
        return {k: m[k] for k in ("micro_f1", "micro_precision", "micro_recall", "macro_f1")}

    return compute


def selection_objective(metrics: dict) -> float | None:
    """What sweeps, ``compare`` and Hydra rank runs by: validation micro-F1, never a test
    metric; with ``fold=all`` there is no validation fold, and no objective."""
    return metrics.get("val/micro_f1")


def prepare_shared(rc: RunConfig) -> None:
    """Everything the ranks share, built once in this process before they start: the pair
    instances with their folds and the model files (an offline model is built; a hub model's
    config and tokenizer must load). A mistake here fails the run before it is tracked."""
    from socio_re.models.load import check_model_loads, load_tokenizer
    from socio_re.tasks.relext.data.prepared import prepare

    prepare(rc.data, rc.paths.cache_dir)  # a wrong data path is named first
    load_tokenizer(rc.model, check_model_loads(rc.model), require_chat_template=False)


def data_splits(rc: RunConfig) -> tuple[Path, dict[str, list[Path]]]:
    """The prepared folder the run reads and each split's files in it (its provenance):
    training on every fold file but ``split_<fold>.json``, which validates (``fold=all``: all
    of them train), and ``test.json``. Nothing is read or built."""
    from socio_re.tasks.relext.data.folds import TEST_FILE, split_paths
    from socio_re.tasks.relext.data.prepared import prepared_directory

    root = prepared_directory(rc.data, rc.paths.cache_dir)
    folds = split_paths(root)
    held_out = [] if rc.fold == "all" else [folds[int(rc.fold)]]
    test = root / TEST_FILE
    return root, {"train": [p for p in folds if p not in held_out], "val": held_out,
                  "test": [test] if test.exists() else []}


def run(rc: RunConfig, run_dir: Path, tracker) -> TaskResult:
    from datasets import Dataset

    from socio_re.models.classifier import SequenceClassifier
    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.data.prepared import prepare
    from socio_re.tasks.relext.encode import encode
    from socio_re.tasks.relext.gold import shared_task_metrics
    from socio_re.tasks.relext.model import build_classifier, classifier_saver, unwrap_for_saving
    from socio_re.tasks.relext.novelty import label_id, model_labels
    from socio_re.tasks.relext.scoring import score_and_write
    from socio_re.training.collate import ClassificationCollator
    from socio_re.training.lifecycle import TrainingLifecycle

    result = TaskResult()
    prepared = prepare(rc.data, rc.paths.cache_dir)
    train_inst, val_inst = _fold_instances(rc, prepared)
    labels = LABELS
    novelty = rc.task.novelty
    weights = None
    if rc.task.class_weights:  # over the model's classes ((type, novelty) pairs when joint)
        weights = class_weights_of([label_id(i, labels, novelty) for i in train_inst],
                                   len(model_labels(labels, novelty)))
    best, keeper = _best_model_selection(rc, bool(val_inst), run_dir)
    # The model computes a per-example loss (label smoothing, class weights); averaging tokens
    # across devices would scale it by the world size under DDP.
    life = TrainingLifecycle(rc, run_dir, tracker, has_eval=bool(val_inst),
                             average_tokens_across_devices=False,
                             include_num_input_tokens_seen="no", **best)
    model, tokenizer, _ = life.load_model(
        lambda: build_classifier(rc, labels, class_weights=weights))

    def encoded(instances, name):
        cols, s = encode(instances, tokenizer, transform=rc.task.transform,
                         max_length=rc.task.max_length, labels=labels, novelty=novelty)
        token_stats[name] = s
        # Per split: what a researcher checks first on a new corpus (data_stats.json too).
        log.info("%s: %d instances, %.0f%% NOT, %d longer than task.max_length=%d (windowed "
                 "around both entities), %d of them lost a marker (entities further apart "
                 "than max_length), mean %.0f tokens", name, s["instances"],
                 100 * s["not_share"], s["truncated"], rc.task.max_length, s["marker_cut"],
                 s["mean_tokens"])
        return cols

    def dataset(instances, name):
        return Dataset.from_dict(encoded(instances, name))

    token_stats: dict = {}
    train_ds = dataset(train_inst, "train")
    val_ds = dataset(val_inst, "val") if val_inst else None
    if prepared.test and rc.evaluate and rc.task.eval.test:
        encoded(prepared.test, "test")  # the stats only; the test split is encoded to predict
    stats_path = run_dir / "data_stats.json"
    stats_path.write_text(json.dumps({
        "fold": rc.fold, "train_instances": len(train_inst), "val_instances": len(val_inst),
        "test_instances": len(prepared.test), "tokens": token_stats, "build": prepared.stats,
        "prepared_dir": str(prepared.directory)}, indent=1, default=str) + "\n")
    result.artifacts["data_stats"] = stats_path

    metrics: dict = {}
    if rc.train:
        life.fit(model, train_dataset=train_ds, eval_dataset=val_ds,
                 data_collator=ClassificationCollator(tokenizer.pad_token_id),
                 compute_metrics=compute_metrics_fn(labels, novelty) if val_ds else None,
                 keeper=keeper)
        if life.interrupted:
            result.interrupted = True
            return result
        metrics.update(life.train_metrics(eval_loss=False, runtime=False))
        final = life.export(run_dir / "model", save_fn=classifier_saver(rc, labels, tokenizer))
        # Score the exported model: what the ensemble command and users load.
        plain = life.scoring_model(lambda: SequenceClassifier.load(final))
        if plain is None:
            result.metrics = metrics
            return result  # rank 0 scores; the others are done
    else:
        plain = unwrap_for_saving(model)
        final = run_dir / "model"
        if final.exists():
            shutil.rmtree(final)
        plain.save(final, tokenizer, labels=list(model_labels(labels, novelty)))
    result.paths["model"] = final

    if rc.evaluate:
        splits = {"val": val_inst, "test": prepared.test if rc.task.eval.test else []}
        for split, instances in splits.items():
            if instances:
                instances = cap_rows(instances, rc.task.eval.max_rows, rc.seed)
                split_metrics, files = score_and_write(
                    plain, tokenizer, instances, rc.task, labels, run_dir, prefix=split)
                metrics.update(split_metrics)
                result.artifacts.update(files)
                # The shared task's scores of the submission file just written (gold.py).
                gold = _split_gold(prepared, split, rc.fold, run_dir)
                metrics.update(shared_task_metrics(gold, files[f"{split}_submission"], split))
                result.artifacts[f"{split}_gold_relations"] = gold
        metrics["objective"] = selection_objective(metrics)
    result.metrics = metrics
    return result


def _split_gold(prepared, split: str, fold, run_dir: Path) -> Path:
    """``<split>_gold_relations.tsv`` in the run: the corpus's curated relations of the
    split's abstracts (val: those of this fold; test: all)."""
    from socio_re.tasks.relext.gold import gold_file, write_split_gold

    out = run_dir / f"{split}_gold_relations.tsv"
    if split == "test":
        source = gold_file(prepared.directory, "test")
        out.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        return out
    abstracts = {a for a, f in prepared.fold_of.items() if f == fold}
    return write_split_gold(gold_file(prepared.directory, "train"), abstracts, out)


def _fold_instances(rc: RunConfig, prepared) -> tuple[list, list]:
    """(training, validation) instances of ``rc.fold``; negatives down-sampled in training
    only (``data.negative_ratio``), so validation and test keep every pair."""
    from socio_re.tasks.relext.data.folds import fold_split
    from socio_re.tasks.relext.data.instances import downsample_negatives

    train_inst, val_inst = fold_split(prepared.instances, prepared.fold_of, rc.fold,
                                      k=rc.data.num_folds)
    if rc.data.negative_ratio is not None:
        n_before = len(train_inst)
        train_inst = downsample_negatives(train_inst, rc.data.negative_ratio, rc.seed)
        log.info("negative down-sampling kept %d of %d training instances", len(train_inst),
                 n_before)
    return train_inst, val_inst


def _best_model_selection(rc: RunConfig, has_val: bool, run_dir: Path):
    """The best checkpoint by validation micro-F1 comes back at the end (``task.load_best``);
    how depends on the engine (training/lifecycle.py). Returns (TrainingArguments extras,
    keeper)."""
    if not (has_val and rc.task.load_best):
        return {}, None
    from socio_re.training.engine import Engine
    from socio_re.training.lifecycle import best_model_selection

    return best_model_selection(Engine.from_strategy(rc.strategy), run_dir / "checkpoints",
                                "micro_f1")
