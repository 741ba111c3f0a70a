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
    """Type probabilities (n × len(labels)), batched, in instance order; for a model that
    predicts novelty (``model.novelty``: head or joint) they carry P(Novel | related) per row
    as ``p_novel`` (:class:`~socio_re.tasks.relext.ensemble.PairProbabilities`)."""
    import torch
    from tqdm.auto import tqdm

    from socio_re.tasks.relext.encode import encode
    from socio_re.tasks.relext.ensemble import with_novelty
    from socio_re.tasks.relext.novelty import sigmoid, split_joint
    from socio_re.training.collate import ClassificationCollator

    cols, _ = encode(instances, tokenizer, transform=task_cfg.transform,
                     max_length=task_cfg.max_length, labels=labels)
    rows = [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    collate = ClassificationCollator(tokenizer.pad_token_id)
    bs = batch_size or task_cfg.eval.batch_size
    device = next(model.parameters()).device
    mode = getattr(model, "novelty", None)
    model.eval()
    out, novel = [], []
    with torch.inference_mode():
        for i in tqdm(range(0, len(rows), bs), desc="predicting", unit="batch", leave=False):
            batch = collate(rows[i : i + bs])
            batch.pop("labels", None)
            pred = model(**{k: v.to(device) for k, v in batch.items()})
            out.append(torch.softmax(pred.logits.float(), dim=-1).cpu().numpy())
            if mode == "head":
                novel.append(sigmoid(pred.novelty_logits.float().cpu().numpy()))
    if not out:
        return with_novelty(np.zeros((0, len(labels))), np.zeros(0) if mode else None)
    probs = np.concatenate(out)
    if mode == "joint":
        return with_novelty(*split_joint(probs))
    return with_novelty(probs, np.concatenate(novel) if mode == "head" else None)


def write_outputs(keys: pd.DataFrame, probs: np.ndarray, labels, out_dir: Path,
                  prefix: str) -> tuple[dict[str, float], dict[str, Path]]:
    """Predictions CSV, probabilities, submission TSV, PubTator lines, and — when gold labels
    exist — metrics, the per-class table and the confusion matrix (CSV + PNG). Novelty
    (``p_novel``, ``pred_novel``, the "novel" column of both files, ``novelty_*`` metrics) comes
    from the probabilities' ``p_novel`` where they carry one."""
    from socio_re.tasks.relext.ensemble import novelty_of
    from socio_re.tasks.relext.metrics import (
        confusion,
        per_class_table,
        plot_confusion,
        relext_metrics,
    )
    from socio_re.tasks.relext.outputs import (
        predictions_frame,
        write_litcoin_submission,
        write_pubtator_relations,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    # p_novel / pred_novel columns when the probabilities carry novelty (else all "Novel")
    preds = predictions_frame(keys, probs, labels, novel_probs=novelty_of(probs))
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
        pred_novel = (preds["pred_novel"].tolist() if "pred_novel" in preds
                      else [True] * len(pred))
        m = relext_metrics(gold, pred, labels, gold_novel=gold_novel,
                           pred_novel=pred_novel if gold_novel else None)
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
    sweep summaries and the MLflow parent run (``TaskSpec.pool_folds_hook``)."""
    import math

    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.ensemble import pooled_out_of_fold

    oof, _ = pooled_out_of_fold(sorted(Path(r) for r in run_dirs), LABELS)
    return {k: float(v) for k, v in oof.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
