"""Combine the class probabilities of several models (e.g. the 5 cross-validation folds).

The fold models each predict the same test instances; their prediction frames are first put in
one row order with :func:`align_predictions`, then their probability matrices are combined with
:func:`ensemble_probabilities`. A matrix may carry each row's novelty probability, P(Novel) of the
relation, as :class:`PairProbabilities`; the ensemble's is the average of the models'.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

KEY_COLUMNS = ("abstract_id", "entity_a_id", "entity_b_id")
METHODS = ("mean", "vote")
# Weight of the mean probability inside a vote share. Vote shares are multiples of 1/k (k
# models), so a term below 1/k only reorders classes with equal votes: the tie-break.
_TIE_BREAK = 1e-6


class PairProbabilities(np.ndarray):
    """Class probabilities (n, C) with, optionally, P(Novel) of each row as ``p_novel`` (n,).

    An ordinary array everywhere else (``np.save``, arithmetic, indexing); anything derived
    from it (a slice, a sum) has ``p_novel = None``: only :func:`with_novelty` attaches one.
    """

    p_novel: np.ndarray | None = None

    def __array_finalize__(self, obj) -> None:
        self.p_novel = None


def with_novelty(probs: np.ndarray, p_novel: np.ndarray | None) -> np.ndarray:
    """``probs`` as :class:`PairProbabilities` carrying ``p_novel`` (one value per row)."""
    out = np.asarray(probs, dtype=np.float64).view(PairProbabilities)
    if p_novel is not None:
        p_novel = np.asarray(p_novel, dtype=np.float64)
        if p_novel.shape != (len(out),):
            raise ValueError(f"p_novel has shape {p_novel.shape}; expected ({len(out)},), one "
                             "value per row of the probabilities")
        out.p_novel = p_novel
    return out


def novelty_of(probs: np.ndarray) -> np.ndarray | None:
    """P(Novel) per row carried by ``probs``, or None (a model without novelty prediction)."""
    return getattr(probs, "p_novel", None)


def ensemble_probabilities(prob_list: list[np.ndarray], method: str = "mean") -> np.ndarray:
    """Combine ``k`` probability matrices of shape (n, C) into one (n, C) matrix.

    - ``"mean"``: the element-wise average.
    - ``"vote"``: each model votes for its argmax class; the result is the vote share of every
      class, with ties between classes of equal votes broken by the mean probability. The
      tie-break is folded in as ``1e-6 * mean`` (then renormalised), so ``argmax`` of the result
      is the ensemble decision and the values stay vote shares to within 1e-6.

    When every input carries novelty probabilities (:class:`PairProbabilities`), the result
    carries their element-wise average, under either method (a relation's novelty is then
    ``mean p_novel >= 0.5``); if any input lacks them, the result has none.
    """
    if method not in METHODS:
        raise ValueError(f"unknown ensemble method {method!r}; expected one of {list(METHODS)}")
    stack = _stack(prob_list)
    mean = stack.mean(axis=0)
    novel = [novelty_of(p) for p in prob_list]
    p_novel = np.mean(np.stack(novel), axis=0) if all(v is not None for v in novel) else None
    if method == "mean":
        return with_novelty(mean, p_novel)
    k, _, c = stack.shape
    # (k, n, 1) argmaxes against (C,) class ids -> one-hot votes, summed over the models
    votes = (stack.argmax(axis=2)[..., None] == np.arange(c)).sum(axis=0)
    scores = votes / k + _TIE_BREAK * mean
    return with_novelty(scores / scores.sum(axis=1, keepdims=True), p_novel)


def align_predictions(
    frames: list[pd.DataFrame], key_cols: Sequence[str] = KEY_COLUMNS
) -> list[pd.DataFrame]:
    """Return ``frames`` with their rows in one common order (that of the first frame).

    Each frame must hold every instance key exactly once; a key missing from some frame or a
    duplicated key is a ``ValueError`` (silently dropping or doubling instances would bias the
    ensemble and the scores). Columns and their order are kept; the index is reset.
    """
    if not frames:
        raise ValueError("align_predictions needs at least one frame")
    keys = list(key_cols)
    indexed = [_keyed(f, keys, i) for i, f in enumerate(frames)]
    all_keys = indexed[0].index
    for frame in indexed[1:]:
        all_keys = all_keys.union(frame.index, sort=False)
    for i, frame in enumerate(indexed):
        missing = all_keys.difference(frame.index, sort=False)
        if len(missing):
            raise ValueError(
                f"prediction frame {i} lacks {len(missing)} of {len(all_keys)} instances "
                f"(keys {keys}; first missing: {list(missing[:3])})"
            )
    order = indexed[0].index
    aligned = []
    for frame, original in zip(indexed, frames, strict=True):
        aligned.append(frame.loc[order].reset_index()[list(original.columns)])
    return aligned


def _stack(prob_list: list[np.ndarray]) -> np.ndarray:
    """(k, n, C) array of the inputs, after checking they are 2-D and of one shape."""
    if not prob_list:
        raise ValueError("ensemble_probabilities needs at least one probability matrix")
    arrays = [np.asarray(p, dtype=np.float64) for p in prob_list]
    shapes = [a.shape for a in arrays]
    if any(a.ndim != 2 for a in arrays) or len(set(shapes)) > 1:
        raise ValueError(
            f"probability matrices must all be 2-D (n_instances, n_classes) of one shape; "
            f"got shapes {shapes}"
        )
    return np.stack(arrays)


def _keyed(frame: pd.DataFrame, keys: list[str], i: int) -> pd.DataFrame:
    absent = [k for k in keys if k not in frame.columns]
    if absent:
        raise ValueError(f"prediction frame {i} lacks key columns {absent}")
    indexed = frame.set_index(keys)
    dupes = int(indexed.index.duplicated().sum())
    if dupes:
        raise ValueError(f"prediction frame {i} has {dupes} duplicated instance keys {keys}")
    return indexed


def pooled_out_of_fold(runs: Sequence[Path], labels) -> tuple[dict, object]:
    """Concatenate each fold's validation predictions (its held-out abstracts) and score them
    together: the cross-validation estimate that does not average per-fold F1s. Novelty is
    scored where the frames have ``gold_novel``; rows without a ``pred_novel`` count as Novel
    (what the output files write for them)."""
    from socio_re.tasks.relext.metrics import relext_metrics

    frames = [pd.read_csv(Path(r) / "val_predictions.csv") for r in runs
              if (Path(r) / "val_predictions.csv").exists()]
    if not frames:
        return {}, None
    oof = pd.concat(frames, ignore_index=True)
    novelty = {}
    if "gold_novel" in oof.columns:
        pred_novel = oof["pred_novel"] if "pred_novel" in oof.columns else \
            pd.Series([True] * len(oof))
        novelty = {"gold_novel": oof["gold_novel"].tolist(),
                   "pred_novel": pred_novel.where(pred_novel.notna(), True).tolist()}
    m = relext_metrics(oof["gold_label"].tolist(), oof["pred_label"].tolist(), labels,
                       **novelty)
    m["folds"] = len(frames)
    return {f"oof/{k}": v for k, v in m.items()}, oof
