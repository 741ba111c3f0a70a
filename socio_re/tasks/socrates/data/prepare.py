"""Validate and split SocSci210 into parquet parts on disk, streaming: memory stays bounded by
one batch of rows plus the key columns, whatever the size of the data (2.9M rows: ~0.4 GiB).

Two passes over the source:

1. only the required columns: validate each batch, keep the group keys of the valid rows;
   the subset and the split are decided on those keys alone (``make_splits`` on a key frame;
   for ``kind="official"`` with the dataset's split file, read before this pass so that a
   missing or malformed file stops the run at once);
2. every column: validate again (same rows survive, the conversions are redone) and write each
   batch's rows to ``<out>/<split>/part-NNNNN.parquet`` in row groups of ``ROW_GROUP_ROWS``, so
   tokenization workers and evaluation can read pieces without loading a split.

The result is row for row what ``load_socsci`` + ``clean_rows`` + ``make_splits`` give in
memory (tested), only never all at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from socio_re.errors import DataError
from socio_re.tasks.socrates.data.load import _arrow_to_pandas, iter_frames, iter_located_frames
from socio_re.tasks.socrates.data.schema import (
    CONDITION_NUM,
    PARTICIPANT,
    REQUIRED_COLUMNS,
    SAMPLE_ID,
    STUDY_ID,
    TASK_NUM,
)
from socio_re.tasks.socrates.data.splits import SPLIT_NAMES, load_official_mapping, make_splits
from socio_re.tasks.socrates.data.validate import (
    check_threshold_arg,
    clean_batch,
    enforce_threshold,
    first_malformed,
    merge_reports,
)

log = logging.getLogger(__name__)

# Rows read, validated and written per batch: 25k rows with their demographic dicts take ~0.5
# GiB in pandas (100k took ~1.1 GiB, for no speed gain).
BATCH_ROWS = 25_000
# Small enough for a tokenization worker's chunk, large enough for parquet to compress well.
ROW_GROUP_ROWS = 10_000
KEY_COLUMNS = [SAMPLE_ID, PARTICIPANT, CONDITION_NUM, TASK_NUM, STUDY_ID]
_POSITION = "_position"


def split_to_disk(path: str, out_dir: Path, *, revision: str | None, kind: str, seed: int,
                  val_fraction: float, test_fraction: float, subset: float,
                  max_malformed_fraction: float, official: str = "studies",
                  batch_rows: int = BATCH_ROWS) -> tuple[dict, dict]:
    """Write the train/val/test parts of ``path`` under ``out_dir``; return (manifest, report).

    ``official`` (studies | tasks | conditions) picks the dataset's split file when
    ``kind="official"``; it is ignored otherwise."""
    from tqdm.auto import tqdm

    check_threshold_arg(max_malformed_fraction)
    mapping = (load_official_mapping(path, official, revision=revision)
               if kind == "official" else None)
    reports, keys, sources, first = [], [], [], None
    for located in tqdm(iter_located_frames(path, revision=revision, columns=REQUIRED_COLUMNS,
                                            batch_rows=batch_rows), desc="validating",
                        unit="batch", leave=False):
        clean, report = clean_batch(located.frame)
        reports.append(report)
        keys.append(clean[KEY_COLUMNS])
        if located.source not in sources:
            sources.append(located.source)
        if report["malformed"] and first is None:
            position, reason = first_malformed(located.frame)
            first = f"{located.locate(position)} ({reason})"
    report = merge_reports(reports)
    if report["total"] == 0:
        where = sources[0] if len(sources) == 1 else f"the {len(sources)} data files of {path}"
        raise DataError(f"{where} holds 0 rows; point data.path at the dataset's data files")
    enforce_threshold(report, max_malformed_fraction, first)

    key_frame = pd.concat(keys, ignore_index=True)
    del keys
    key_frame[_POSITION] = np.arange(len(key_frame), dtype=np.int64)
    splits, manifest = make_splits(key_frame, kind=kind, seed=seed, val_fraction=val_fraction,
                                   test_fraction=test_fraction, subset=subset, mapping=mapping)
    # Split code of every valid row in stream order; -1 = left out by data.subset.
    label = np.full(len(key_frame), -1, dtype=np.int8)
    for code, name in enumerate(SPLIT_NAMES):
        label[splits[name][_POSITION].to_numpy()] = code
    del splits, key_frame

    _write_parts(iter_frames(path, revision=revision, batch_rows=batch_rows), label, out_dir)
    return manifest, report


def _write_parts(frames: Iterator[pd.DataFrame], label: np.ndarray, out_dir: Path) -> None:
    from tqdm.auto import tqdm

    counts = dict.fromkeys(SPLIT_NAMES, 0)
    empty_schema = None
    offset = 0
    for frame in tqdm(frames, desc="writing splits", unit="batch", leave=False):
        clean, _ = clean_batch(frame)
        codes = label[offset:offset + len(clean)]
        offset += len(clean)
        if len(codes) != len(clean):
            raise DataError("the data changed while it was being prepared (more valid rows "
                            "on the second read); run again once it is no longer written to")
        for code, name in enumerate(SPLIT_NAMES):
            part = clean.loc[codes == code]
            if len(part):
                table = pa.Table.from_pandas(part, preserve_index=False)
                empty_schema = empty_schema or table.schema
                target = out_dir / name / f"part-{counts[name]:05d}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, target, row_group_size=ROW_GROUP_ROWS)
                counts[name] += 1
    if offset != len(label):
        raise DataError("the data changed while it was being prepared (fewer valid rows on the "
                        "second read); run again once it is no longer written to")
    for name in SPLIT_NAMES:  # an empty split still reads back with the right columns
        if not counts[name]:
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(empty_schema.empty_table(), out_dir / name / "part-00000.parquet")


def split_parts(split_dir: Path) -> list[Path]:
    return sorted(Path(split_dir).glob("part-*.parquet"))


def read_split(split_dir: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A whole split as one DataFrame (demographic kept as dicts of Python values)."""
    frames = [_arrow_to_pandas(pq.read_table(p, columns=columns)) for p in split_parts(split_dir)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_rows(split_dir: Path, positions: np.ndarray) -> pd.DataFrame:
    """The rows at ``positions`` (0-based over the whole split, any order) in that order,
    reading one part at a time."""
    positions = np.asarray(positions, dtype=np.int64)
    pieces, start = [], 0
    for part in split_parts(split_dir):
        n = pq.ParquetFile(part).metadata.num_rows
        inside = np.flatnonzero((positions >= start) & (positions < start + n))
        if inside.size:
            table = pq.read_table(part).take(pa.array(positions[inside] - start))
            pieces.append((inside, _arrow_to_pandas(table)))
        start += n
    if not pieces:
        return read_split(split_dir).iloc[:0]
    frame = pd.concat([p for _, p in pieces], ignore_index=True)
    order = np.argsort(np.concatenate([i for i, _ in pieces]), kind="stable")
    return frame.iloc[order].reset_index(drop=True)
