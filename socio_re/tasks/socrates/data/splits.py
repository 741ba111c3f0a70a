"""Train / val / test splits of SocSci210 that hold out whole groups.

The paper's question is generalisation to *unseen* studies, conditions, outcomes (tasks) or
participants, so rows of one group must never sit on both sides. A random row split is kept for
comparison with the guide that seeded this project, but it leaks studies across splits.

Determinism: groups are ranked by a keyed 64-bit hash of their key and the seed (pandas'
``hash_pandas_object`` + splitmix64), never by Python's salted ``hash()`` and never by row
order, so the same data and seed give the same split on any machine.

``official`` reproduces the paper's own splits instead of drawing one: the released dataset's
``metadata/`` files name the test side exactly (see :func:`load_official_mapping`), and only the
validation part of the training side is drawn, by the same seeded group logic.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.socrates.data.schema import (
    CONDITION_NUM,
    PARTICIPANT,
    SAMPLE_ID,
    STUDY_ID,
    TASK_NUM,
)

logger = logging.getLogger(__name__)

# Kinds drawn by seeded hashing of groups, from the data alone.
HASH_SPLIT_KINDS = (
    "random",
    "unseen_studies",
    "unseen_conditions",
    "unseen_tasks",
    "unseen_participants",
)
# Every data.split.kind: official takes the split from the dataset's metadata/ files.
SPLIT_KINDS = (*HASH_SPLIT_KINDS, "official")
SPLIT_NAMES = ("train", "val", "test")
# data.split.official -> the released dataset's split file under metadata/ and the layout it has.
OFFICIAL_FILES = {
    "studies": "participant_mapping.json",
    "tasks": "task_mapping.json",
    "conditions": "condition_mapping.json",
}
OFFICIAL_SPLITS = tuple(OFFICIAL_FILES)


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
# How each official split groups rows when it carves val out of its training side, so that val
# holds studies / tasks / conditions that training never sees, as its test side does.
_OFFICIAL_GROUPINGS = {
    "studies": _GROUPINGS["unseen_studies"],
    "tasks": _GROUPINGS["unseen_tasks"],
    "conditions": _GROUPINGS["unseen_conditions"],
}


def make_splits(
    df: pd.DataFrame,
    *,
    kind: str,
    seed: int = 42,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    subset: float = 1.0,
    mapping: OfficialMapping | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Split ``df`` into ``{"train", "val", "test"}`` by ``kind`` and return a manifest.

    ``subset`` first keeps that fraction of rows (chosen by seed). Fractions are of groups, not
    rows: for ``unseen_studies`` ``test_fraction`` of the studies go to test; for the stratified
    kinds each study with >= 2 groups sends about that fraction of its groups (at least one
    stays in train), rounded so that the overall count matches the fraction.

    ``kind="official"`` takes the split from ``mapping`` (:func:`load_official_mapping`) and
    ignores ``test_fraction``: see :func:`_official_splits`.
    """
    # The official test side is the file's: test_fraction plays no part in it.
    _check_args(kind, seed, val_fraction, 0.0 if kind == "official" else test_fraction, subset)
    if len(df) == 0:
        raise DataError("cannot split an empty dataset; check data.path and the cleaning report")
    if kind == "official":
        if mapping is None:
            raise ValueError("data.split.kind=official needs the mapping (load_official_mapping)")
        return _official_splits(df, mapping, seed=seed, val_fraction=val_fraction, subset=subset)
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
        kind, grouping, seed, val_fraction, test_fraction, subset, rows_before, splits, groups
    )
    return splits, manifest


def check_disjoint(splits: dict[str, pd.DataFrame], kind: str) -> None:
    """Raise DataError if a group key (a sample_id for ``random``) appears in two splits."""
    if kind not in _GROUPINGS:
        raise ConfigError("data.split", kind, ", ".join(HASH_SPLIT_KINDS))
    _check_disjoint(splits, _GROUPINGS[kind], f"data.split={kind}")


def _check_disjoint(splits: dict[str, pd.DataFrame], grouping: _Grouping, label: str) -> None:
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
            f"split leak: {grouping.unit} {key} appears in {where} for {label} "
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
    return df.iloc[_subset_positions(df, subset, seed)].reset_index(drop=True)


def _subset_positions(df: pd.DataFrame, subset: float, seed: int) -> np.ndarray:
    """Positions of the rows :func:`_take_subset` keeps, in row order."""
    k = max(1, int(np.floor(subset * len(df) + 0.5)))
    ranks = np.argsort(_keyed_hash(df[SAMPLE_ID], seed, "subset"), kind="stable")
    return np.sort(ranks[:k])


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
    elif kind == "official":  # val is carved out of the split file's training side only
        where = f"the split file's training side has {int(n.sum())} {grouping.units}"
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
    grouping: _Grouping,
    seed: int,
    val_fraction: float,
    test_fraction: float | None,
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
        "group_unit": grouping.unit,
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "test_fraction": None if test_fraction is None else float(test_fraction),
        "subset": float(subset),
        "rows_before_subset": int(rows_before),
        "rows": {name: len(frame) for name, frame in splits.items()},
        "groups": {name: len(k) for name, k in keys.items()},
        "group_keys": None if kind == "random" else keys,
        "group_keys_sha256": {
            name: hashlib.sha256("\n".join(k).encode()).hexdigest() for name, k in keys.items()
        },
    }


# --- official splits (the released dataset's metadata/ files) --------------------------------


@dataclass(frozen=True)
class _Layout:
    """The JSON layout of one split file: its training-side key and its test-side key(s)."""

    train_key: str
    test_keys: tuple[str, ...]  # synonyms; exactly one of them must be present
    id_column: str  # the data column the listed ids refer to
    text: str  # the layout, for error messages


_LAYOUTS = {
    "studies": _Layout("seen", ("unseen",), STUDY_ID,
                       '{"seen": [study_id, ...], "unseen": [study_id, ...]}'),
    "tasks": _Layout("train", ("eval", "test"), SAMPLE_ID,
                     '{"train": [sample_id, ...], "eval": [sample_id, ...]} ("test" may '
                     'replace "eval")'),
}
_LAYOUTS["conditions"] = _LAYOUTS["tasks"]


@dataclass(frozen=True)
class OfficialMapping:
    """One of the released dataset's split files, parsed: which ids train on, which are test."""

    which: str  # studies | tasks | conditions (data.split.official)
    file: str  # "metadata/<name>.json", as the dataset names it
    source: str  # where it was read: a local path or hub:<id>[@revision]/metadata/<name>.json
    sha256: str  # of the file's bytes: the manifest's proof of which split was used
    train: np.ndarray  # study ids ("seen") or sample ids ("train"), unique
    test: np.ndarray  # study ids ("unseen") or sample ids ("eval" / "test"), unique
    test_key: str  # the file's name for its test side: unseen, eval or test

    @property
    def layout(self) -> _Layout:
        return _LAYOUTS[self.which]


def load_official_mapping(path: str, which: str, *, revision: str | None = None
                          ) -> OfficialMapping:
    """The split file ``data.split.official=which`` names, from the dataset at ``path``.

    ``studies``: ``metadata/participant_mapping.json``, the paper's 170 seen / 40 unseen
    studies; ``tasks`` / ``conditions``: ``metadata/task_mapping.json`` /
    ``metadata/condition_mapping.json``, the 75/25 train/eval split of sample ids by task / by
    condition. A local dataset directory holds them under ``metadata/``; from a hub id only the
    one file is downloaded.
    """
    from socio_re.tasks.socrates.data.load import metadata_file

    if which not in OFFICIAL_FILES:
        raise ConfigError("data.split.official", which, ", ".join(OFFICIAL_SPLITS))
    file, source = metadata_file(path, OFFICIAL_FILES[which], revision=revision)
    return read_official_mapping(file, which, source=source)


def read_official_mapping(file: str | Path, which: str, *, source: str | None = None
                          ) -> OfficialMapping:
    """Parse one split file; any other layout than the expected one is a one-line DataError."""
    source = source or str(file)
    try:
        raw = Path(file).read_bytes()
        content = json.loads(raw)
    except OSError as e:
        raise DataError(f"cannot read split file {source}: {e.strerror or e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"split file {source} is not valid JSON ({e}); expected "
                        f"{_LAYOUTS[which].text}") from e
    layout = _LAYOUTS[which]
    test_key = _check_layout(content, layout, source)
    ids = (_study_ids if layout.id_column == STUDY_ID else _sample_ids)
    train = ids(content[layout.train_key], layout.train_key, source, layout)
    test = ids(content[test_key], test_key, source, layout)
    both = np.intersect1d(train, test)
    if both.size:
        raise DataError(f"split file {source} puts {both.size} ids on both sides "
                        f"({layout.train_key} and {test_key}), e.g. {both[0]!r}; each id "
                        "belongs to one side")
    return OfficialMapping(which, f"metadata/{OFFICIAL_FILES[which]}", source,
                           hashlib.sha256(raw).hexdigest(), train, test, test_key)


def _check_layout(content: object, layout: _Layout, source: str) -> str:
    """The test-side key of ``content``, or a DataError naming the keys found."""
    if isinstance(content, dict):
        present = [k for k in layout.test_keys if k in content]
        expected = {layout.train_key, *present}
        if (len(present) == 1 and set(content) == expected
                and all(isinstance(content[k], list) for k in expected)):
            return present[0]
    raise DataError(f"split file {source} has an unexpected layout ({_describe(content)}); "
                    f"expected {layout.text}")


def _describe(content: object) -> str:
    """What a JSON value holds, briefly: its keys (with their value types) or its type."""
    names = {dict: "object", list: "array", str: "string", int: "number", float: "number",
             bool: "boolean", type(None): "null"}
    if not isinstance(content, dict):
        return f"a JSON {names.get(type(content), type(content).__name__)}"
    if not content:
        return "an empty JSON object"
    shown = [f"{k} ({names.get(type(v), type(v).__name__)})" for k, v in list(content.items())[:8]]
    more = f" and {len(content) - 8} more" if len(content) > 8 else ""
    return "keys found: " + ", ".join(shown) + more


def _study_ids(values: list, key: str, source: str, layout: _Layout) -> np.ndarray:
    bad = next((v for v in values if not isinstance(v, str)), None)
    if bad is not None:
        raise DataError(f"split file {source} lists {bad!r} under {key!r}, not a study id "
                        f"string; expected {layout.text}")
    return np.unique(np.asarray(values, dtype=object))


def _sample_ids(values: list, key: str, source: str, layout: _Layout) -> np.ndarray:
    # JSON integers, or their decimal strings; never floats or booleans (int(1.5) would
    # silently name another row).
    bad = next((v for v in values if not (type(v) is int or (isinstance(v, str) and v.isascii()
                                                              and v.isdigit()))), None)
    if bad is not None:
        raise DataError(f"split file {source} lists {bad!r} under {key!r}, not an integer "
                        f"sample id; expected {layout.text}")
    return np.unique(np.asarray([int(v) for v in values], dtype=np.int64))


def _official_splits(
    df: pd.DataFrame, mapping: OfficialMapping, *, seed: int, val_fraction: float, subset: float
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Test = the mapping's test side exactly; train and val = its training side, with val
    carved out by whole studies / tasks / conditions (the seeded group logic), so that val is
    as unseen by training as test is. Rows the mapping does not name are dropped first, then
    ``subset`` applies."""
    rows_before = len(df)
    side, coverage = _official_sides(df, mapping)
    df, side = df.loc[side >= 0].reset_index(drop=True), side[side >= 0]
    if subset < 1.0:
        keep = _subset_positions(df, subset, seed)
        df, side = df.iloc[keep].reset_index(drop=True), side[keep]
    on_test = side == 1
    if on_test.all():
        raise DataError(f"no row of the data is on the {mapping.layout.train_key!r} side of "
                        f"{mapping.source}; check that the split file belongs to this dataset")
    if not on_test.any():
        logger.warning("the test split is empty: no row of the data is on the test side of %s",
                       mapping.source)

    grouping = _OFFICIAL_GROUPINGS[mapping.which]
    cols = list(grouping.columns)
    pool = df.loc[~on_test, cols]
    groups = _assign_groups(pool, grouping, seed, val_fraction, 0.0, "official")
    split_of_row = np.full(len(df), "test", dtype=object)
    split_of_row[~on_test] = pool.merge(groups, on=cols, how="left")["split"].to_numpy()
    splits = {name: df.loc[split_of_row == name].reset_index(drop=True) for name in SPLIT_NAMES}

    # No row is on two sides by construction (one side per id); what can leak is a group.
    label = f"data.split=official ({mapping.which})"
    if mapping.which == "studies":
        _check_disjoint(splits, grouping, label)
    else:
        _check_disjoint({"train": splits["train"], "val": splits["val"]}, grouping, label)
        _warn_shared_test_groups(splits, grouping, mapping)

    manifest = _manifest("official", grouping, seed, val_fraction, None, subset, rows_before,
                         splits, _split_groups(splits, grouping))
    manifest.update({
        "official": mapping.which,
        "mapping_file": mapping.file,
        "mapping_sha256": mapping.sha256,
        "mapping_coverage": coverage,
    })
    # A hub file's name says which release it came from; a local path only says where this
    # copy sits, and would make the same split a different cache entry in another folder.
    if mapping.source.startswith("hub:"):
        manifest["mapping_source"] = mapping.source
    return splits, manifest


def _official_sides(df: pd.DataFrame, mapping: OfficialMapping) -> tuple[np.ndarray, dict]:
    """Per row: 0 = training side, 1 = test side, -1 = not in the mapping (dropped); and the
    counts of what does not match, logged as warnings."""
    layout = mapping.layout
    values = df[layout.id_column]
    side = np.full(len(df), -1, dtype=np.int8)
    side[values.isin(mapping.train).to_numpy()] = 0
    side[values.isin(mapping.test).to_numpy()] = 1
    present = pd.Index(values.unique())
    sides = {layout.train_key: mapping.train, mapping.test_key: mapping.test}
    absent = {key: int((~pd.Index(ids).isin(present)).sum()) for key, ids in sides.items()}
    dropped = int((side < 0).sum())
    if any(absent.values()):
        unit = "study ids" if layout.id_column == STUDY_ID else "sample ids"
        counts = ", ".join(f"{absent[key]} of {len(ids)} {key}" for key, ids in sides.items())
        logger.warning("%s lists %s that are not in the data (after cleaning): %s",
                       mapping.source, unit, counts)
    if dropped:
        logger.warning("%d of %d rows of the data are on neither side of %s: they are dropped",
                       dropped, len(df), mapping.source)
    return side, {"ids_not_in_data": absent, "rows_not_in_mapping": dropped}


def _split_groups(splits: dict[str, pd.DataFrame], grouping: _Grouping) -> pd.DataFrame:
    """One row per (group, split) with its key, for the manifest."""
    cols = list(grouping.columns)
    parts = [frame[cols].drop_duplicates().assign(split=name) for name, frame in splits.items()]
    groups = pd.concat(parts, ignore_index=True)
    return groups.assign(key=_keys(groups, grouping).to_numpy())


def _warn_shared_test_groups(
    splits: dict[str, pd.DataFrame], grouping: _Grouping, mapping: OfficialMapping
) -> None:
    """The sample-level files are meant to hold out whole tasks / conditions; if this one splits
    some between its sides, say so (the split is still the paper's, so it is kept)."""
    cols = list(grouping.columns)
    test = splits["test"][cols].drop_duplicates()
    seen = pd.concat([splits["train"][cols], splits["val"][cols]]).drop_duplicates()
    shared = len(test.merge(seen, on=cols, how="inner"))
    if shared:
        logger.warning("%d of %d test %s of %s also have rows in train or val: the file splits "
                       "them by sample, not whole", shared, len(test), grouping.units,
                       mapping.source)
