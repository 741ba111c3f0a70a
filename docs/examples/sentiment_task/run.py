"""sentiment end to end: jsonl rows → [CLS] classifier → the shared training lifecycle →
accuracy on val (the objective) and test (reported only)."""

from __future__ import annotations

import json
from pathlib import Path

from socio_re.tasks.result import TaskResult

from .config import LABELS


def prepare_shared(rc) -> None:
    """Built once before the ranks start: the data (a wrong path fails here, untracked) and
    the model's files."""
    from socio_re.models.load import check_model_loads, load_tokenizer

    from .data import prepare

    prepare(rc.data)
    load_tokenizer(rc.model, check_model_loads(rc.model), require_chat_template=False)


def selection_objective(metrics: dict) -> float | None:
    return metrics.get("val/accuracy")  # validation only: test is reported, never selected on


def build_model(rc, tokenizer, strategy=True):
    from socio_re.models.classifier import SequenceClassifier
    from socio_re.models.load import load_backbone

    backbone = load_backbone(rc.model, tokenizer, strategy=rc.strategy if strategy else None)
    return SequenceClassifier(backbone, len(LABELS), "cls")


def encode(rows, tokenizer, max_length: int):
    from datasets import Dataset

    enc = tokenizer([t for t, _ in rows], truncation=True, max_length=max_length)
    return Dataset.from_dict({"input_ids": enc["input_ids"], "labels": [y for _, y in rows]})


def accuracy(eval_pred) -> dict:
    import numpy as np

    logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) \
        else eval_pred.predictions
    return {"accuracy": float((np.argmax(logits, -1) == eval_pred.label_ids).mean())}


def capped(rows, task_cfg):
    """At most ``task.eval.max_rows`` rows (debug=smoke caps scoring with it)."""
    return rows[: task_cfg.eval.max_rows] if task_cfg.eval.max_rows else rows


def score(model, tokenizer, rows, task_cfg) -> float:
    """Accuracy of ``model`` on ``rows`` (at most ``task.eval.max_rows`` of them)."""
    import torch

    from socio_re.training.collate import ClassificationCollator

    rows = capped(rows, task_cfg)
    data, collate = encode(rows, tokenizer, task_cfg.max_length), \
        ClassificationCollator(tokenizer.pad_token_id)
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), task_cfg.eval.batch_size):
            batch = collate([data[i] for i in range(start, min(start + task_cfg.eval.batch_size,
                                                               len(data)))])
            labels = batch.pop("labels")
            correct += int((model(**batch).logits.argmax(-1) == labels).sum())
    return correct / max(len(data), 1)


def run(rc, run_dir: Path, tracker) -> TaskResult:
    from socio_re.models.classifier import SequenceClassifier
    from socio_re.models.load import load_tokenizer, resolve_model_path
    from socio_re.training.collate import ClassificationCollator
    from socio_re.training.lifecycle import TrainingLifecycle

    from .data import prepare

    result = TaskResult()
    splits = prepare(rc.data)
    tokenizer = load_tokenizer(rc.model, resolve_model_path(rc.model),
                               require_chat_template=False)
    life = TrainingLifecycle(rc, run_dir, tracker, has_eval=True)
    model = life.load_model(lambda: build_model(rc, tokenizer))
    metrics: dict = {"train/rows": len(splits["train"])}
    final = run_dir / "model"
    if rc.train:
        life.fit(model, train_dataset=encode(splits["train"], tokenizer, rc.task.max_length),
                 # The rows the final score reads, so both report the same number.
                 eval_dataset=encode(capped(splits["val"], rc.task), tokenizer,
                                     rc.task.max_length),
                 data_collator=ClassificationCollator(tokenizer.pad_token_id),
                 compute_metrics=accuracy)
        if life.interrupted:
            result.interrupted = True
            return result
        metrics.update(life.train_metrics())

        def save(trained, directory, state):
            if state is not None:  # a sharded engine gathered the weights: a plain copy
                life.engine.leave_distributed_context()
                trained = build_model(rc, tokenizer, strategy=False)
                trained.load_state_dict(state, strict=False)
            trained.save(directory, tokenizer, labels=list(LABELS))

        life.export(final, save_fn=save)
        model = life.scoring_model(lambda: SequenceClassifier.load(final))
        if model is None:
            result.metrics = metrics
            return result  # rank 0 scores; the other ranks are done
    else:
        model.save(final, tokenizer, labels=list(LABELS))
    result.paths["model"] = final
    if rc.evaluate:
        for split in ("val", "test"):
            metrics[f"{split}/accuracy"] = score(model, tokenizer, splits[split], rc.task)
        metrics["objective"] = selection_objective(metrics)
    (run_dir / "scores.json").write_text(json.dumps(metrics, indent=1) + "\n")
    result.artifacts["scores"] = run_dir / "scores.json"
    result.metrics = metrics
    return result
