"""Relation predictions as a frame, and as LitCoin submission / PubTator relation files.

Both file formats list relations only: instances predicted NOT are left out, as in a LitCoin
submission (docs/tasks/relext.md, "Outputs and metrics").
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from socio_re.tasks.relext.data.documents import LABELS, NOT
from socio_re.tasks.relext.ensemble import KEY_COLUMNS

LITCOIN_COLUMNS = ("id", "abstract_id", "type", "entity_1_id", "entity_2_id", "novel")


def predictions_frame(
    instances_keys: pd.DataFrame,
    probs: np.ndarray,
    labels: Sequence[str] = LABELS,
    novel_probs: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per instance: key columns, ``pred_label``, ``confidence``, ``p_<label>``.

    ``probs`` is (n, len(labels)) in ``labels`` order. Optional extras:

    - ``gold_label`` when ``instances_keys`` has a ``type`` column (missing/empty -> NOT; class
      indices are mapped through ``labels``), and ``gold_novel`` when it has ``novel``;
    - ``p_novel`` and ``pred_novel`` (``p_novel >= 0.5``) from ``novel_probs``: either (n,) with
      P(Novel) or (n, 2) with columns (No, Novel).
    """
    probs = np.asarray(probs, dtype=np.float64)
    n = len(instances_keys)
    if probs.shape != (n, len(labels)):
        raise ValueError(f"probs has shape {probs.shape}; expected ({n}, {len(labels)}) for "
                         f"{n} instances and labels {list(labels)}")
    absent = [k for k in KEY_COLUMNS if k not in instances_keys.columns]
    if absent:
        raise ValueError(f"instances_keys lacks key columns {absent}")
    out = instances_keys[list(KEY_COLUMNS)].reset_index(drop=True)
    if "type" in instances_keys.columns:
        out["gold_label"] = [_gold_label(v, labels) for v in instances_keys["type"]]
    if "novel" in instances_keys.columns:
        out["gold_novel"] = instances_keys["novel"].to_numpy()
    best = probs.argmax(axis=1)
    out["pred_label"] = np.asarray(labels, dtype=object)[best]
    out["confidence"] = probs[np.arange(n), best]
    for i, label in enumerate(labels):
        out[f"p_{label}"] = probs[:, i]
    if novel_probs is not None:
        out["p_novel"] = _p_novel(novel_probs, n)
        out["pred_novel"] = out["p_novel"] >= 0.5
    return out


def write_litcoin_submission(pred_df: pd.DataFrame, path: str | Path) -> Path:
    """Write the LitCoin relations TSV (header, ids 0..n-1), rows predicted NOT left out.

    ``novel`` is "Novel"/"No" from a ``pred_novel`` column, or "Novel" for every row without
    one (the LitCoin convention's majority class).
    """
    rows = _relation_rows(pred_df)
    table = pd.DataFrame({
        "id": range(len(rows)),
        "abstract_id": rows["abstract_id"].to_numpy(),
        "type": rows["pred_label"].to_numpy(),
        "entity_1_id": rows["entity_a_id"].to_numpy(),
        "entity_2_id": rows["entity_b_id"].to_numpy(),
        "novel": _novel_strings(rows),
    }, columns=list(LITCOIN_COLUMNS))
    out = _prepare(path)
    # The ".csv" files of LitCoin are tab-separated; no quoting keeps ids such as
    # "p|SUB|V|1763|M" byte-identical.
    table.to_csv(out, sep="\t", index=False, lineterminator="\n", quoting=csv.QUOTE_NONE)
    return out


def write_pubtator_relations(pred_df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``PMID<TAB>Type<TAB>ID1<TAB>ID2<TAB>Novel|No`` lines, NOT rows left out.

    Lines are grouped by abstract (abstracts in order of first appearance, no blank lines
    between them), to be merged into or compared with a PubTator file's relation lines.
    """
    rows = _relation_rows(pred_df)
    lines = [
        f"{pmid}\t{rel}\t{a}\t{b}\t{novel}\n"
        for pmid, rel, a, b, novel in zip(
            rows["abstract_id"], rows["pred_label"], rows["entity_a_id"], rows["entity_b_id"],
            _novel_strings(rows), strict=True,
        )
    ]
    out = _prepare(path)
    out.write_text("".join(lines), encoding="utf-8")
    return out


def _relation_rows(pred_df: pd.DataFrame) -> pd.DataFrame:
    """Rows not predicted NOT, grouped by abstract in order of first appearance."""
    needed = [*KEY_COLUMNS, "pred_label"]
    absent = [c for c in needed if c not in pred_df.columns]
    if absent:
        raise ValueError(f"prediction frame lacks columns {absent}")
    rows = pred_df[pred_df["pred_label"] != NOT]
    # factorize numbers abstracts by first appearance; the stable sort keeps row order within one
    rank, _ = pd.factorize(rows["abstract_id"])
    return rows.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def _novel_strings(rows: pd.DataFrame) -> list[str]:
    if "pred_novel" not in rows.columns:
        return ["Novel"] * len(rows)
    return [_novel_string(v) for v in rows["pred_novel"]]


def _novel_string(value: object) -> str:
    if isinstance(value, str):
        if value not in ("Novel", "No"):
            raise ValueError(f"pred_novel value {value!r}; expected a bool or Novel/No")
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "Novel"  # unknown: same default as a frame without pred_novel
    return "Novel" if bool(value) else "No"


def _gold_label(value: object, labels: Sequence[str]) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return NOT
    if isinstance(value, (int, np.integer)):
        return labels[int(value)]
    return str(value)


def _p_novel(novel_probs: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(novel_probs, dtype=np.float64)
    if arr.ndim == 2 and arr.shape == (n, 2):
        return arr[:, 1]
    if arr.shape == (n,):
        return arr
    raise ValueError(f"novel_probs has shape {arr.shape}; expected ({n},) or ({n}, 2)")


def _prepare(path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
