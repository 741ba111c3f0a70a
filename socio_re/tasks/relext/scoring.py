"""Predict class probabilities for instances and write every relext output for one split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KEY_COLUMNS = ["abstract_id", "entity_a_id", "entity_b_id"]


def instance_frame(instances: list) -> pd.DataFrame:
    return pd.DataFrame({
        "abstract_id": [i.abstract_id for i in instances],
        "entity_a_id": [i.entity_a_id for i in instances],
        "entity_b_id": [i.entity_b_id for i in instances],
        "type": [i.type for i in instances],
        "novel": [i.novel for i in instances],
    })


def predict_probabilities(model, tokenizer, instances: list, task_cfg, labels,
                          batch_size: int | None = None) -> np.ndarray:
    """Softmax probabilities (n × classes), batched, in instance order."""
    import torch
    from tqdm.auto import tqdm

    from socio_re.tasks.relext.encode import PairCollator, encode

    cols, _ = encode(instances, tokenizer, transform=task_cfg.transform,
                     max_length=task_cfg.max_length, labels=labels)
    rows = [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    collate = PairCollator(tokenizer.pad_token_id)
    bs = batch_size or task_cfg.eval.batch_size
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(rows), bs), desc="predicting", unit="batch", leave=False):
            batch = collate(rows[i : i + bs])
            batch.pop("labels", None)
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(labels)))


def write_outputs(keys: pd.DataFrame, probs: np.ndarray, labels, out_dir: Path,
                  prefix: str) -> tuple[dict[str, float], dict[str, Path]]:
    """Predictions CSV, probabilities, submission TSV, PubTator lines, and — when gold labels
    exist — metrics, the per-class table and the confusion matrix (CSV + PNG)."""
    from socio_re.evaluation.relext_outputs import (
        predictions_frame,
        write_litcoin_submission,
        write_pubtator_relations,
    )
    from socio_re.metrics.relext import (
        confusion,
        per_class_table,
        plot_confusion,
        relext_metrics,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    preds = predictions_frame(keys, probs, labels)
    files = {
        f"{prefix}_predictions": out_dir / f"{prefix}_predictions.csv",
        f"{prefix}_submission": out_dir / f"{prefix}_litcoin_submission.tsv",
        f"{prefix}_pubtator": out_dir / f"{prefix}_relations.pubtator",
    }
    preds.to_csv(files[f"{prefix}_predictions"], index=False)
    write_litcoin_submission(preds, files[f"{prefix}_submission"])
    write_pubtator_relations(preds, files[f"{prefix}_pubtator"])
    metrics: dict[str, float] = {}
    if "type" in keys and keys["type"].notna().all():
        gold = [labels.index(t) for t in keys["type"]]
        pred = list(np.argmax(probs, axis=1))
        gold_novel = keys["novel"].tolist() if "novel" in keys else None
        m = relext_metrics(gold, pred, labels, gold_novel=gold_novel,
                           pred_novel=[True] * len(pred) if gold_novel else None)
        metrics = {f"{prefix}/{k}": v for k, v in m.items()}
        table = per_class_table(gold, pred, labels)
        conf = confusion(gold, pred, labels)
        files[f"{prefix}_per_class"] = out_dir / f"{prefix}_per_class.csv"
        files[f"{prefix}_confusion"] = out_dir / f"{prefix}_confusion.csv"
        files[f"{prefix}_confusion_png"] = out_dir / f"{prefix}_confusion.png"
        table.to_csv(files[f"{prefix}_per_class"], index=False)
        conf.to_csv(files[f"{prefix}_confusion"])
        plot_confusion(conf, files[f"{prefix}_confusion_png"], f"{prefix} confusion matrix")
    return metrics, files


def score_and_write(model, tokenizer, instances: list, task_cfg, labels, out_dir: Path,
                    prefix: str) -> tuple[dict[str, float], dict[str, Path]]:
    probs = predict_probabilities(model, tokenizer, instances, task_cfg, labels)
    keys = instance_frame(instances)
    return write_outputs(keys, probs, labels, out_dir, prefix)


def pooled_fold_metrics(run_dirs) -> dict[str, float]:
    """The folds' validation predictions scored together (``oof/*``): the task's hook for
    sweep summaries and the MLflow parent run (``TaskSpec.pooled_folds``)."""
    import math

    from socio_re.data.relext.documents import LABELS
    from socio_re.evaluation.ensemble import pooled_out_of_fold

    oof, _ = pooled_out_of_fold(sorted(Path(r) for r in run_dirs), LABELS)
    return {k: float(v) for k, v in oof.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
