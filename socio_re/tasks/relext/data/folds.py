"""K-fold cross-validation grouped by abstract, and the reference pipeline's split files.

Folds are assigned to abstracts, never to instances, so no abstract contributes pairs to both
the training and the validation side of a fold. Assignment sorts the ids and shuffles them with
a seeded ``random.Random`` (stable across runs and Python versions, unlike ``hash()``), so it
does not depend on the order the ids come in.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.relext.data.instances import Instance, read_split_file, write_split_file

_SPLIT_FILE = re.compile(r"split_(\d+)\.json")
TEST_FILE = "test.json"


def assign_folds(abstract_ids: Iterable[str], k: int = 5, seed: int = 42) -> dict[str, int]:
    """abstract id -> fold in [0, k); fold sizes differ by at most one abstract."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError("data.num_folds", k, "an integer >= 2")
    ids = sorted(set(abstract_ids))
    random.Random(seed).shuffle(ids)
    return {abstract_id: rank % k for rank, abstract_id in enumerate(ids)}


def _check_fold(fold: object, k: int) -> None:
    if fold == "all":
        return
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < k:
        raise ConfigError("fold", fold, f"an integer 0..{k - 1} or all")


def fold_split(
    instances: Iterable[Instance], fold_of: dict[str, int], fold: int | str, k: int = 5
) -> tuple[list[Instance], list[Instance]]:
    """(train, val): fold ``f`` validates on abstracts of fold f and trains on the others;
    fold ``"all"`` trains on everything and validates on nothing. Input order is kept."""
    _check_fold(fold, k)
    instances = list(instances)
    if fold == "all":
        return instances, []
    train, val = [], []
    for inst in instances:
        if inst.abstract_id not in fold_of:
            raise DataError(f"abstract {inst.abstract_id} has no fold assigned")
        (val if fold_of[inst.abstract_id] == fold else train).append(inst)
    return train, val


def write_split_files(
    instances: Iterable[Instance],
    fold_of: dict[str, int],
    directory: str | Path,
    test_instances: Iterable[Instance] | None = None,
    k: int | None = None,
) -> list[Path]:
    """Write ``split_0.json`` ... ``split_{k-1}.json`` (one per fold) and optionally
    ``test.json``; returns the paths. ``k`` defaults to the highest fold + 1.

    An abstract without instances (e.g. a single entity) leaves no trace in the files, so
    :func:`folds_from_split_files` recovers the folds of the abstracts that have instances.
    """
    directory = Path(directory)
    k = k if k is not None else max(fold_of.values(), default=-1) + 1
    by_fold: list[list[Instance]] = [[] for _ in range(k)]
    for inst in instances:
        fold = fold_of.get(inst.abstract_id)
        if fold is None or not 0 <= fold < k:
            raise DataError(f"abstract {inst.abstract_id} has no fold in 0..{k - 1}")
        by_fold[fold].append(inst)
    paths = [write_split_file(part, directory / f"split_{f}.json") for f, part in
             enumerate(by_fold)]
    if test_instances is not None:
        paths.append(write_split_file(test_instances, directory / TEST_FILE))
    return paths


def split_paths(directory: Path) -> list[Path]:
    """split_0.json ... split_{k-1}.json, checked to be contiguous from 0."""
    found = {}
    for path in directory.glob("split_*.json"):
        match = _SPLIT_FILE.fullmatch(path.name)
        if match:
            found[int(match.group(1))] = path
    if not found:
        raise DataError(f"no split_0.json ... split_N.json files in {directory}")
    if sorted(found) != list(range(len(found))):
        raise DataError(
            f"split files in {directory} must be numbered 0..{len(found) - 1} without gaps, "
            f"found {sorted(found)}"
        )
    return [found[i] for i in range(len(found))]


def folds_from_split_files(
    directory: str | Path,
) -> tuple[dict[str, int], list[Instance], list[Instance]]:
    """(fold_of, all split instances in fold order, test instances or [] without test.json).

    Split file i is fold i; an abstract found in two split files is a DataError because the
    folds would no longer be grouped by abstract.
    """
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            raise DataError(f"{directory} is a file; data.format=split_files reads a directory "
                            "of split_0.json ... split_N.json (+ test.json): point data.path at "
                            "that directory")
        raise DataError(f"split directory {directory} does not exist")
    fold_of: dict[str, int] = {}
    everything: list[Instance] = []
    for fold, path in enumerate(split_paths(directory)):
        part = read_split_file(path)
        for inst in part:
            if fold_of.setdefault(inst.abstract_id, fold) != fold:
                raise DataError(
                    f"{directory}: abstract {inst.abstract_id} appears in split_"
                    f"{fold_of[inst.abstract_id]}.json and {path.name}; folds must be grouped "
                    "by abstract: keep its records in one split file"
                )
        everything.extend(part)
    test_path = directory / TEST_FILE
    test = read_split_file(test_path) if test_path.exists() else []
    return fold_of, everything, test
