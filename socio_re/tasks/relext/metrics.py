"""Relation-extraction metrics for LitCoin / BioRED (docs/tasks/relext.md, Outputs).

Instances are entity-id pairs labelled with a class index into ``labels``; ``labels[0]`` is the
negative class NOT (~85% of pairs). The headline metric is micro precision/recall/F1 over the
positive classes only:

- TP: ``pred == gold != NOT``;
- FP: ``pred != NOT and pred != gold`` (a positive predicted for a NOT pair, or the wrong type);
- FN: ``gold != NOT and pred != gold`` (a missed relation, or the wrong type).

A wrong positive type is therefore both an FP and an FN, as in the BioRED evaluation, where a
predicted (pair, type) that matches no gold relation is spurious and the gold one is missed.

Why not "mask to ``gold != NOT`` and score the rest": that drops every instance whose gold label
is NOT, so positives predicted on unrelated pairs -- the dominant error of an over-eager model --
are never counted, and precision is inflated (a model predicting a positive class everywhere
looks perfectly precise). Every function here scores all instances.

All ratios are 0 where their denominator is 0. The counting is scikit-learn's
(``precision_recall_fscore_support`` over the positive labels, ``confusion_matrix``); this
module decides only which labels take part.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from socio_re.tasks.relext.data.documents import LABELS

NEGATIVE = 0  # index of NOT in ``labels``
MICRO_ROW = "micro (excl. NOT)"
TABLE_COLUMNS = ("label", "precision", "recall", "f1", "support", "predicted", "kind")


def relext_metrics(
    gold: Sequence[int],
    pred: Sequence[int],
    labels: Sequence[str] = LABELS,
    *,
    gold_novel: Sequence[bool | None] | None = None,
    pred_novel: Sequence[bool | None] | None = None,
) -> dict[str, float]:
    """Flat metric dict for one set of predictions.

    ``gold`` and ``pred`` are class indices into ``labels`` (label strings are accepted too).
    Keys:

    - ``micro_precision``, ``micro_recall``, ``micro_f1``: over the positive classes (module
      docstring);
    - ``macro_f1``: mean per-class F1 over the positive classes that occur in gold *or* in the
      predictions. Classes absent from both are left out: their F1 is undefined and counting them
      as 0 would punish a model for a class the split does not contain; classes that are only
      predicted stay in, so spurious predictions of a rare class still cost;
    - ``pair_precision``, ``pair_recall``, ``pair_f1``: relation detection regardless of type
      (TP: ``pred != NOT and gold != NOT``);
    - ``accuracy``: over all instances including NOT; ``n``: number of instances;
    - with ``gold_novel`` and ``pred_novel`` (True = Novel, False = No, None = unknown):
      ``novelty_precision``, ``novelty_recall``, ``novelty_f1``, the BioRED "all" score, where a
      TP needs the right type *and* the right novelty. Gold relations of unknown novelty cannot
      be judged and their instances are dropped; gold-NOT instances stay, so positives
      predicted on them remain FPs. Beside them, ``novelty_f1_all_novel``: the same score with
      every predicted relation labelled Novel (the constant baseline a novelty prediction has
      to beat; the types as predicted); and ``novelty_accuracy`` / ``novelty_accuracy_all_novel``:
      over the gold relations of known novelty that were detected (predicted not NOT, any
      type), the share whose predicted novelty is right / that are Novel.
    """
    g, p = _as_indices(gold, labels), _as_indices(pred, labels)
    _check_same_length(g, p, "gold", "pred")
    positive = list(range(NEGATIVE + 1, len(labels)))
    precision, recall, f1 = _scores(g, p, positive, "micro")
    # Macro over the positive classes present in gold or predictions (see above).
    present = [c for c in positive if (g == c).any() or (p == c).any()]
    out = {
        "micro_precision": precision,
        "micro_recall": recall,
        "micro_f1": f1,
        "macro_f1": _scores(g, p, present, "macro")[2] if present else 0.0,
        "accuracy": _ratio(int((g == p).sum()), len(g)),
        "n": float(len(g)),
    }
    out.update(_pair_scores(g, p))
    if gold_novel is not None or pred_novel is not None:
        out.update(_novelty_scores(g, p, gold_novel, pred_novel))
    return out


def per_class_table(
    gold: Sequence[int], pred: Sequence[int], labels: Sequence[str] = LABELS
) -> pd.DataFrame:
    """Per-class precision/recall/F1 (one-vs-rest), ``support`` (gold count) and ``predicted``.

    Rows: every label in ``labels`` order, then the micro summary row ``"micro (excl. NOT)"``.
    The ``kind`` column marks the roles: ``"excluded"`` for NOT (shown for information; it takes
    no part in micro or macro scores), ``"class"`` for positive classes, ``"summary"``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    g, p = _as_indices(gold, labels), _as_indices(pred, labels)
    _check_same_length(g, p, "gold", "pred")
    k = len(labels)
    if len(g):
        precision, recall, f1, support = precision_recall_fscore_support(
            g, p, labels=list(range(k)), average=None, zero_division=0.0)
    else:
        precision = recall = f1 = support = np.zeros(k)
    predicted = np.bincount(p, minlength=k)
    rows = [(label, float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]),
             int(predicted[i]), "excluded" if i == NEGATIVE else "class")
            for i, label in enumerate(labels)]
    positive = list(range(NEGATIVE + 1, k))
    rows.append((MICRO_ROW, *_scores(g, p, positive, "micro"), int(support[positive].sum()),
                 int(predicted[positive].sum()), "summary"))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def confusion(
    gold: Sequence[int], pred: Sequence[int], labels: Sequence[str] = LABELS
) -> pd.DataFrame:
    """Confusion counts: rows are gold labels, columns predicted labels, all of ``labels``."""
    from sklearn.metrics import confusion_matrix

    g, p = _as_indices(gold, labels), _as_indices(pred, labels)
    _check_same_length(g, p, "gold", "pred")
    k = len(labels)
    counts = confusion_matrix(g, p, labels=list(range(k))) if len(g) else np.zeros((k, k), int)
    return pd.DataFrame(
        counts,
        index=pd.Index(list(labels), name="gold"),
        columns=pd.Index(list(labels), name="predicted"),
    )


def plot_confusion(df: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Write ``df`` (from :func:`confusion`) as a PNG heatmap with the counts in the cells.

    Colour is the row-normalised fraction (per-gold-class recall), not the raw count: NOT holds
    ~85% of the pairs and would otherwise wash every other cell out to the same pale shade.
    """
    # Figure + the Agg canvas directly, not pyplot: no global backend switch, no GUI, and no
    # figure registry to leak from long evaluation loops.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = df.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    size = 1.0 + 0.6 * max(len(df.columns), 2)
    fig = Figure(figsize=(size + 1.5, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="fraction of gold row")
    for (r, c), value in np.ndenumerate(counts):
        color = "white" if frac[r, c] > 0.6 else "black"
        ax.text(c, r, str(value), ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(len(df.columns)), [str(c) for c in df.columns], rotation=45, ha="right")
    ax.set_yticks(range(len(df.index)), [str(i) for i in df.index])
    ax.set_xlabel(df.columns.name or "predicted")
    ax.set_ylabel(df.index.name or "gold")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out


# ---------------------------------------------------------------------------------------------
# helpers


def _as_indices(values: Sequence[int] | Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Class indices as an int array; label strings are mapped through ``labels``."""
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of class labels, got shape {arr.shape}")
    if arr.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) for v in arr):
        arr = arr.astype(np.int64)  # ints in an object column (e.g. read back from JSON)
    if arr.dtype.kind in "OUS":
        index = {label: i for i, label in enumerate(labels)}
        unknown = sorted({str(v) for v in arr if v not in index})
        if unknown:
            raise ValueError(f"unknown labels {unknown[:5]}; expected one of {list(labels)}")
        return np.fromiter((index[v] for v in arr), dtype=np.int64, count=arr.size)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"class labels must be integers or label strings, got {arr.dtype}")
    if arr.min() < 0 or arr.max() >= len(labels):
        raise ValueError(f"class indices must lie in [0, {len(labels)}), got "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} differ in length: {len(a)} vs {len(b)}")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts; F1 = 2TP / (n_pred + n_gold), equal to 2PR/(P+R)."""
    return _ratio(tp, n_pred), _ratio(tp, n_gold), _ratio(2 * tp, n_pred + n_gold)


def _scores(gold: np.ndarray, pred: np.ndarray, labels: list[int],
            average: str) -> tuple[float, float, float]:
    """scikit-learn's precision, recall, F1 over ``labels`` (micro or macro), 0 where a
    denominator is 0 (and for no instances at all)."""
    from sklearn.metrics import precision_recall_fscore_support

    if not len(gold) or not labels:
        return 0.0, 0.0, 0.0
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=labels, average=average,
                                                 zero_division=0.0)
    return float(p), float(r), float(f)


def _pair_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    is_gold, is_pred = gold != NEGATIVE, pred != NEGATIVE
    p, r, f = _prf(int((is_gold & is_pred).sum()), int(is_pred.sum()), int(is_gold.sum()))
    return {"pair_precision": p, "pair_recall": r, "pair_f1": f}


def _novelty_scores(
    gold: np.ndarray,
    pred: np.ndarray,
    gold_novel: Sequence[bool | None] | None,
    pred_novel: Sequence[bool | None] | None,
) -> dict[str, float]:
    if gold_novel is None or pred_novel is None:
        raise ValueError("novelty scores need both gold_novel and pred_novel")
    g_known, g_val = _novelty_values(gold_novel, len(gold), "gold_novel")
    p_known, p_val = _novelty_values(pred_novel, len(gold), "pred_novel")
    # Gold relations of unknown novelty cannot be judged; everything else (gold NOT included)
    # is scored, so false positives keep counting.
    keep = ~((gold != NEGATIVE) & ~g_known)
    g, p = gold[keep], pred[keep]
    n_pred, n_gold = int((p != NEGATIVE).sum()), int((g != NEGATIVE).sum())
    typed = (p == g) & (g != NEGATIVE)
    right = p_known[keep] & (p_val[keep] == g_val[keep])
    prec, rec, f1 = _prf(int((typed & right).sum()), n_pred, n_gold)
    # The constant baseline: every predicted relation "Novel".
    baseline_f1 = _prf(int((typed & g_val[keep]).sum()), n_pred, n_gold)[2]
    detected = (g != NEGATIVE) & (p != NEGATIVE)
    return {"novelty_precision": prec, "novelty_recall": rec, "novelty_f1": f1,
            "novelty_f1_all_novel": baseline_f1,
            "novelty_accuracy": _ratio(int((detected & right).sum()), int(detected.sum())),
            "novelty_accuracy_all_novel": _ratio(int((detected & g_val[keep]).sum()),
                                                 int(detected.sum()))}


def _novelty_values(
    values: Sequence[bool | str | None], n: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """(known, is_novel) boolean arrays; accepts bools, None/NaN and "Novel"/"No" strings."""
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries, expected {n}")
    known, novel = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, str):
            if v not in ("Novel", "No"):
                raise ValueError(f"{name}[{i}] = {v!r}; expected True/False/None or Novel/No")
            v = v == "Novel"
        known[i], novel[i] = True, bool(v)
    return known, novel
