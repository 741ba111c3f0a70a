"""Train / val / test splits of SocSci210 that hold out whole groups.

The paper's question is generalisation to *unseen* studies, conditions, outcomes (tasks) or
participants, so rows of one group must never sit on both sides. A random row split is kept for
comparison with the guide that seeded this project, but it leaks studies across splits.

Determinism: groups are ranked by a keyed 64-bit hash of their key and the seed (pandas'
``hash_pandas_object`` + splitmix64), never by Python's salted ``hash()`` and never by row
order, so the same data and seed give the same split on any machine.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from socio_re.data.socsci.schema import (
    CONDITION_NUM,
    PARTICIPANT,
    SAMPLE_ID,
    STUDY_ID,
    TASK_NUM,
)
from socio_re.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SPLIT_KINDS = (
    "random",
    "unseen_studies",
    "unseen_conditions",
    "unseen_tasks",
    "unseen_participants",
)
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class _Grouping:
    """How a split kind groups rows: key columns, key-string suffix, and per-study strata."""

    columns: tuple[str, ...]
    unit: str  # what one group is, for messages
    units: str  # plural of unit
    tag: str  # key string "<study>/<tag><number>"; "" for single-column keys
    stratified: bool  # allocate within each study (every study keeps groups in train)


_GROUPINGS = {
    "random": _Grouping((SAMPLE_ID,), "row", "rows", "", False),
    "unseen_studies": _Grouping((STUDY_ID,), "study", "studies", "", False),
    "unseen_conditions": _Grouping((STUDY_ID, CONDITION_NUM), "condition", "conditions", "c", True),
    "unseen_tasks": _Grouping((STUDY_ID, TASK_NUM), "task", "tasks", "t", True),
    "unseen_participants": _Grouping(
        (STUDY_ID, PARTICIPANT), "participant", "participants", "p", True
    ),
}


def make_splits(
    df: pd.DataFrame,
    *,
    kind: str,
    seed: int = 42,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    subset: float = 1.0,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Split ``df`` into ``{"train", "val", "test"}`` by ``kind`` and return a manifest.

    ``subset`` first keeps that fraction of rows (chosen by seed). Fractions are of groups, not
    rows: for ``unseen_studies`` ``test_fraction`` of the studies go to test; for the stratified
    kinds each study with >= 2 groups sends about that fraction of its groups (at least one
    stays in train), rounded so that the overall count matches the fraction.
    """
    _check_args(kind, seed, val_fraction, test_fraction, subset)
    if len(df) == 0:
        raise DataError("cannot split an empty dataset; check data.path and the cleaning report")
    rows_before = len(df)
    if subset < 1.0:
        df = _take_subset(df, subset, seed)
    if kind == "random":
        logger.warning(
            "data.split=random splits rows, so nearly every study appears in train and test: "
            "scores measure seen-study fit, not generalisation (use unseen_studies for that)"
        )

    grouping = _GROUPINGS[kind]
    groups = _assign_groups(df, grouping, seed, val_fraction, test_fraction, kind)
    labels = df[list(grouping.columns)].merge(groups, on=list(grouping.columns), how="left")
    split_of_row = labels["split"].to_numpy()
    splits = {name: df.loc[split_of_row == name].reset_index(drop=True) for name in SPLIT_NAMES}
    check_disjoint(splits, kind)
    manifest = _manifest(
        kind, seed, val_fraction, test_fraction, subset, rows_before, splits, groups
    )
    return splits, manifest


def check_disjoint(splits: dict[str, pd.DataFrame], kind: str) -> None:
    """Raise DataError if a group key (a sample_id for ``random``) appears in two splits."""
    if kind not in _GROUPINGS:
        raise ConfigError("data.split", kind, ", ".join(SPLIT_KINDS))
    grouping = _GROUPINGS[kind]
    cols = list(grouping.columns)
    # Each frame's groups are unique after drop_duplicates, so a duplicate across the
    # concatenation is a group present in two splits.
    parts = [frame[cols].drop_duplicates().assign(_split=name) for name, frame in splits.items()]
    every = pd.concat(parts, ignore_index=True)
    shared = every[every.duplicated(subset=cols, keep=False)]
    if len(shared):
        key = _keys(shared.iloc[:1], grouping).iloc[0]
        where = " and ".join(shared.loc[_keys(shared, grouping) == key, "_split"])
        raise DataError(
            f"split leak: {grouping.unit} {key} appears in {where} for data.split={kind} "
            f"({shared[cols].drop_duplicates().shape[0]} shared {grouping.units} in all)"
        )


# --- arguments -------------------------------------------------------------------------------


def _check_args(
    kind: str, seed: int, val_fraction: float, test_fraction: float, subset: float
) -> None:
    if kind not in SPLIT_KINDS:
        raise ConfigError("data.split", kind, ", ".join(SPLIT_KINDS))
    for key, value in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ConfigError(key, value, "a number in [0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            "data.val_fraction",
            val_fraction,
            f"a number below {1.0 - test_fraction:g}",
            hint="val_fraction + test_fraction must leave something for train",
        )
    if not isinstance(subset, (int, float)) or not 0.0 < subset <= 1.0:
        raise ConfigError("data.subset", subset, "a number in (0, 1]")
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError("seed", seed, "an integer")


# --- hashing ---------------------------------------------------------------------------------


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer: turns correlated inputs into well-spread ranks."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _keyed_hash(values: pd.Series, seed: int, salt: str) -> np.ndarray:
    """Stable uint64 per value, different for each (seed, salt)."""
    base = pd.util.hash_pandas_object(values, index=False).to_numpy(dtype=np.uint64)
    mix = int.from_bytes(hashlib.sha256(f"{seed}:{salt}".encode()).digest()[:8], "little")
    return _splitmix64(base ^ np.uint64(mix))


def _take_subset(df: pd.DataFrame, subset: float, seed: int) -> pd.DataFrame:
    """Keep ``round(subset * n)`` rows ranked by a hash of sample_id (order-independent)."""
    k = max(1, int(np.floor(subset * len(df) + 0.5)))
    ranks = np.argsort(_keyed_hash(df[SAMPLE_ID], seed, "subset"), kind="stable")
    keep = np.sort(ranks[:k])
    return df.iloc[keep].reset_index(drop=True)


# --- group allocation ------------------------------------------------------------------------


def _keys(groups: pd.DataFrame, grouping: _Grouping) -> pd.Series:
    """Readable key strings: "T0A3F", "T0A3F/c2", "T0A3F/t0", "T0A3F/p17" or a sample_id."""
    first = groups[grouping.columns[0]].astype("str")
    if len(grouping.columns) == 1:
        return first
    return first + "/" + grouping.tag + groups[grouping.columns[1]].astype("str")


def _assign_groups(
    df: pd.DataFrame,
    grouping: _Grouping,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    kind: str,
) -> pd.DataFrame:
    """One row per group with its key and its split."""
    groups = df[list(grouping.columns)].drop_duplicates().reset_index(drop=True)
    groups["key"] = _keys(groups, grouping).to_numpy()
    stratum = groups[STUDY_ID] if grouping.stratified else pd.Series("", index=groups.index)
    codes, strata = pd.factorize(stratum, sort=True)
    order = np.lexsort((_keyed_hash(groups["key"], seed, "groups"), codes))
    groups, codes = groups.iloc[order].reset_index(drop=True), codes[order]
    rank = groups.groupby(codes, sort=False).cumcount().to_numpy()

    n = np.bincount(codes, minlength=len(strata))
    tie = _keyed_hash(pd.Series(strata.astype(str)), seed, "strata")
    n_test = _allocate(n, n - 1, test_fraction, tie)
    n_val = _allocate(n, n - 1 - n_test, val_fraction, tie)
    for name, fraction, count in (("test", test_fraction, n_test), ("val", val_fraction, n_val)):
        if fraction > 0 and count.sum() == 0:
            raise DataError(_empty_split_message(name, fraction, n, grouping, kind))

    split = np.full(len(groups), "train", dtype=object)
    split[rank < n_test[codes]] = "test"
    split[(rank >= n_test[codes]) & (rank < (n_test + n_val)[codes])] = "val"
    groups["split"] = split
    return groups


def _allocate(n: np.ndarray, capacity: np.ndarray, fraction: float, tie: np.ndarray) -> np.ndarray:
    """Groups per stratum for one split: ``fraction`` of each stratum, largest-remainder rounded.

    The total is ``round(fraction * groups in eligible strata)``; a stratum never gives more
    than ``capacity`` (so each keeps one group for train). Strata with < 2 groups give none.
    """
    eligible = n >= 2
    exact = np.where(eligible, fraction * n, 0.0)
    capacity = np.maximum(capacity, 0)
    quota = np.minimum(np.floor(exact).astype(np.int64), capacity)
    target = int(np.floor(exact.sum() + 0.5))
    # Hand the remaining groups, one at a time, to strata with the largest remainders.
    while quota.sum() < target:
        open_ = np.flatnonzero(eligible & (quota < capacity))
        if open_.size == 0:
            break
        remainder = exact[open_] - quota[open_]
        ranked = open_[np.lexsort((tie[open_], -remainder))]
        quota[ranked[: target - int(quota.sum())]] += 1
    return quota


def _empty_split_message(
    name: str, fraction: float, n: np.ndarray, grouping: _Grouping, kind: str
) -> str:
    eligible = n[n >= 2]
    if grouping.stratified:
        where = (
            f"{len(eligible)} of {len(n)} studies have 2 or more {grouping.units} "
            f"({int(eligible.sum())} {grouping.units} in them)"
        )
    else:
        where = f"the data has {int(n.sum())} {grouping.units}"
    return (
        f"{name} split is empty: data.split={kind} holds out whole {grouping.units}, {where}, "
        f"and data.{name}_fraction={fraction} of them rounds to 0 once train keeps at least one "
        f"{grouping.unit}{' per study' if grouping.stratified else ''}; use more data, a larger "
        f"data.{name}_fraction, or another data.split"
    )


# --- manifest --------------------------------------------------------------------------------


def _manifest(
    kind: str,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    subset: float,
    rows_before: int,
    splits: dict[str, pd.DataFrame],
    groups: pd.DataFrame,
) -> dict:
    """JSON-serialisable record of the split, for the run directory and tracking.

    Group keys are listed for every kind except ``random`` (one key per row would make the
    manifest as large as the data); a sha256 of each split's sorted keys is always given.
    """
    keys = {
        name: sorted(groups.loc[groups["split"] == name, "key"].tolist()) for name in SPLIT_NAMES
    }
    return {
        "kind": kind,
        "group_unit": _GROUPINGS[kind].unit,
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "test_fraction": float(test_fraction),
        "subset": float(subset),
        "rows_before_subset": int(rows_before),
        "rows": {name: len(frame) for name, frame in splits.items()},
        "groups": {name: len(k) for name, k in keys.items()},
        "group_keys": None if kind == "random" else keys,
        "group_keys_sha256": {
            name: hashlib.sha256("\n".join(k).encode()).hexdigest() for name, k in keys.items()
        },
    }
