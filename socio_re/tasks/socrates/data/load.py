"""Read SocSci210 from a local directory / file or from the Hugging Face hub into pandas.

Every failure a user can fix (wrong path, empty directory, unreadable file, missing columns,
no network) becomes a one-line :class:`~socio_re.errors.DataError` that says what to do.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from socio_re.data.text import read_text, text_lines
from socio_re.errors import DataError
from socio_re.tasks.socrates.data.schema import COLUMNS, DEMOGRAPHIC, REQUIRED_COLUMNS

# "owner/name" as the hub spells repository ids.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TRUE = {"1", "true", "yes", "on"}
_JSON_SUFFIXES = (".jsonl", ".json")
# The released dataset's folder of split files (participant_mapping.json, ...): JSON that is not
# rows, so a directory of jsonl/json shards must not read it as data.
METADATA_DIR = "metadata"


def load_socsci(path: str, *, revision: str | None = None) -> pd.DataFrame:
    """Load SocSci210-style rows from ``path`` (local dir, local file or hub id ``owner/name``).

    A directory is read as all of its ``*.parquet`` files (recursively, sorted) or, if it has
    none, all of its ``*.jsonl`` / ``*.json`` files. The ``demographic`` column holds plain
    dicts (ints, strings, None) or None. ``revision`` only applies to hub ids. For data too
    large to hold in memory use :func:`iter_frames`.
    """
    frames = list(iter_frames(path, revision=revision, batch_rows=None))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def iter_frames(path: str, *, revision: str | None = None, columns: Sequence[str] | None = None,
                batch_rows: int | None = 100_000) -> Iterator[pd.DataFrame]:
    """The rows of ``path`` (as :func:`load_socsci` reads it) as DataFrames of at most
    ``batch_rows`` rows (``None``: one frame per file), in file order, so that a dataset of
    any size passes through bounded memory. ``columns`` restricts what is decoded (the
    required columns are always checked first). At least one frame is yielded."""
    for located in iter_located_frames(path, revision=revision, columns=columns,
                                       batch_rows=batch_rows):
        yield located.frame


@dataclass
class LocatedFrame:
    """A batch of rows and where they came from, so that a bad row can be named."""

    frame: pd.DataFrame
    source: str             # the file (or hub id) the rows were read from
    first_row: int          # 0-based position of the batch's first row in that source
    lines: Sequence[int] | None = None  # JSON lines: the file line of each row of the source

    def locate(self, position: int) -> str:
        """``FILE line N`` (JSON lines, 1-based), ``FILE record index N`` (a JSON array) or
        ``FILE row index N`` (parquet, hub; 0-based) for the row at ``position`` here."""
        index = self.first_row + int(position)
        if self.lines is not None:
            return f"{self.source} line {self.lines[index]}"
        kind = "record" if self.source.endswith((".json", ".jsonl")) else "row"
        return f"{self.source} {kind} index {index}"


def iter_located_frames(path: str, *, revision: str | None = None,
                        columns: Sequence[str] | None = None,
                        batch_rows: int | None = 100_000) -> Iterator[LocatedFrame]:
    """:func:`iter_frames` with each batch's source file and row positions."""
    local = Path(path).expanduser()
    if local.exists():
        sources = _local_sources(local)
    elif _looks_local(path) or not _HUB_ID.match(path):
        raise DataError(
            f"data.path={path} does not exist; point data.path at a directory of SocSci210 "
            "parquet/jsonl files or at a hub id like socratesft/SocSci210"
        )
    else:
        sources = [(path, lambda: _hub_table(path, revision))]
    for where, open_source in sources:
        yield from _frames_of(where, open_source, columns, batch_rows)


def _frames_of(where, open_source, columns, batch_rows) -> Iterator[LocatedFrame]:
    """Batches of one file (or of the hub table), every read error turned into a DataError."""
    try:
        source = open_source()
        if isinstance(source, tuple):  # JSON: parsed whole, then cut into batches
            source, lines = source
            _check_columns(source.columns, str(where))
            cols = [c for c in columns if c in source.columns] if columns else source.columns
            step = batch_rows or max(len(source), 1)
            for start in range(0, max(len(source), 1), step):
                yield LocatedFrame(source[cols].iloc[start:start + step].reset_index(drop=True),
                                   str(where), start, lines)
            return
        names = source.schema_arrow.names if hasattr(source, "schema_arrow") else \
            source.schema.names
        _check_columns(names, str(where))
        cols = [c for c in columns if c in names] if columns else None
        if isinstance(source, pa.Table):
            table = source.select(cols) if cols else source
            batches = table.to_batches(max_chunksize=batch_rows) if batch_rows else [table]
        elif batch_rows is None:
            batches = [source.read(columns=cols)]
        else:
            batches = source.iter_batches(batch_size=batch_rows, columns=cols)
        start = 0
        for batch in batches:
            frame = _arrow_to_pandas(batch if isinstance(batch, pa.Table)
                                     else pa.Table.from_batches([batch]))
            yield LocatedFrame(frame, str(where), start)
            start += len(frame)
        if not start:
            schema = source.schema_arrow if hasattr(source, "schema_arrow") else source.schema
            yield LocatedFrame(_arrow_to_pandas(schema.empty_table().select(cols or schema.names)),
                               str(where), 0)
    except (OSError, pa.ArrowException, ValueError, UnicodeDecodeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot read data file {where}: {reason}; replace or remove the "
                        "file") from e


def dataset_fingerprint(path: str, *, revision: str | None = None) -> str:
    """The identity of the data behind ``path``, for cache keys and a run's provenance.

    Local data: the content digest of the data files (:func:`socio_re.data.digest.
    content_digest`; each file is read once, then remembered by its size and mtime), so the
    same files give the same key wherever they were written. Hub data:
    ``hub:<id>@<revision or main>``.
    """
    from socio_re.data.digest import content_digest

    local = Path(path).expanduser()
    if not local.exists():
        return f"hub:{path}@{revision or 'main'}"
    files = [local] if local.is_file() else _data_files(local, _any_data_suffix)
    return content_digest(local, files)


# --- local files -----------------------------------------------------------------------------


def _looks_local(path: str) -> bool:
    return path.startswith(("/", ".", "~")) or "\\" in path or path.count("/") > 1


def _any_data_suffix(p: Path) -> bool:
    return p.suffix in (".parquet", *_JSON_SUFFIXES)


def _in_metadata_dir(p: Path, root: Path) -> bool:
    return p.relative_to(root).parts[0] == METADATA_DIR


def _data_files(root: Path, keep) -> list[Path]:
    """Matching files under ``root``, sorted, skipping hidden paths (``hf download``'s .cache/)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and keep(p)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _local_sources(local: Path) -> list[tuple[Path, Callable[[], object]]]:
    """(file, opener) for each data file: a ParquetFile to stream, or a parsed JSON frame."""
    if local.is_file():
        files = [local]
        if local.suffix not in (".parquet", *_JSON_SUFFIXES):
            raise DataError(f"cannot read data file {local}: use .parquet, .jsonl or .json files")
    else:
        files = _data_files(local, lambda p: p.suffix == ".parquet")
        if not files:
            files = _data_files(local, lambda p: p.suffix in _JSON_SUFFIXES
                                and not _in_metadata_dir(p, local))
        if not files:
            raise DataError(
                f"data.path={local} contains no .parquet, .jsonl or .json files; "
                "point data.path at the directory that holds the dataset's shards"
            )
    return [(f, (lambda f=f: pq.ParquetFile(f)) if f.suffix == ".parquet"
             else (lambda f=f: _read_json(f))) for f in files]


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas, keeping ``demographic`` as dicts of Python values.

    ``Table.to_pandas`` turns int struct children with nulls into floats (``2.0``, ``nan``);
    ``to_pylist`` keeps ints and ``None``, which is what prompt builders and metrics expect.
    """
    if DEMOGRAPHIC not in table.column_names:
        return table.to_pandas()
    demo = table.column(DEMOGRAPHIC).to_pylist()
    df = table.drop_columns([DEMOGRAPHIC]).to_pandas()
    df.insert(table.column_names.index(DEMOGRAPHIC), DEMOGRAPHIC, pd.Series(demo, dtype=object))
    return df


def _read_json(f: Path) -> tuple[pd.DataFrame, list[int] | None]:
    """Read JSON lines, or one JSON array of records (``.json`` files may be either), as
    ``(frame, lines)``: UTF-8 with or without a BOM, any line ending, blank lines skipped;
    ``lines`` holds the file line of each row (None for a JSON array)."""
    text = read_text(f, "data file")
    stripped = text.lstrip()
    if not stripped:
        raise ValueError("the file is empty; expected JSON objects, one per line")
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as e:
            skipped = text.count("\n", 0, len(text) - len(stripped))  # blank lines before "["
            raise ValueError(f"line {e.lineno + skipped} is not valid JSON ({e.msg})") from e
        lines = None
    else:
        records, lines = [], []
        for lineno, line in enumerate(text_lines(text), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"line {lineno} is not valid JSON ({e.msg})") from e
            lines.append(lineno)
    if not records:
        raise ValueError("expected JSON objects, one per row")
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        at = f"line {lines[bad]}" if lines is not None else f"record index {bad}"
        raise ValueError(f"{at} holds a JSON {type(records[bad]).__name__}, expected an object "
                         "with the SocSci210 columns")
    df = pd.DataFrame.from_records(records)
    if DEMOGRAPHIC in df.columns:
        # NaN from rows without the key -> None, so the column is "dict or None" like parquet's.
        df[DEMOGRAPHIC] = pd.Series(
            [d if isinstance(d, dict) else None for d in df[DEMOGRAPHIC]], dtype=object
        )
    return df, lines


def _check_columns(names, where: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise DataError(
            f"data at {where} is missing required column(s) {', '.join(missing)}; "
            f"expected SocSci210 columns: {', '.join(COLUMNS)}"
        )


# --- metadata files (the dataset's own splits) -----------------------------------------------


def metadata_file(path: str, name: str, *, revision: str | None = None) -> tuple[Path, str]:
    """``(local file, where it came from)`` of the dataset's ``metadata/<name>``.

    A local ``data.path`` directory holds it under ``<dir>/metadata/`` (a single data file: next
    to that file); for a hub id just that one file is downloaded (or taken from the hub cache),
    not the whole dataset. Every failure is a one-line DataError that says how to get the file.
    """
    local = Path(path).expanduser()
    if local.exists():
        root = local if local.is_dir() else local.parent
        file = root / METADATA_DIR / name
        if not file.is_file():
            raise DataError(
                f"{file} does not exist: data.split.kind=official reads the dataset's own split "
                f"files from {root / METADATA_DIR}/; download the dataset with its metadata "
                f"folder (`hf download socratesft/SocSci210 --repo-type dataset --local-dir "
                f"{root}`) or use a hash split such as data.split.kind=unseen_studies"
            )
        return file, str(file)
    if _looks_local(path) or not _HUB_ID.match(path):
        raise DataError(f"data.path={path} does not exist; point data.path at a directory of "
                        "SocSci210 parquet/jsonl files or at a hub id like socratesft/SocSci210")
    return _hub_metadata_file(path, name, revision)


def _hub_metadata_file(repo_id: str, name: str, revision: str | None) -> tuple[Path, str]:
    from huggingface_hub import hf_hub_download

    ref = f"{repo_id}@{revision}" if revision else repo_id
    remote = f"{METADATA_DIR}/{name}"
    try:
        with _honour_offline_env():
            file = hf_hub_download(repo_id, remote, repo_type="dataset", revision=revision)
    except Exception as e:  # every hub failure becomes one actionable message
        raise _hub_metadata_error(repo_id, ref, remote, e) from e
    return Path(file), f"hub:{ref}/{remote}"


def _hub_metadata_error(repo_id: str, ref: str, remote: str, e: Exception) -> DataError:
    from huggingface_hub.errors import EntryNotFoundError

    if _is_unreachable(e):
        return DataError(
            f"could not reach the Hugging Face hub to download {remote} of {ref} (offline or no "
            "network); download the dataset with its metadata folder on a machine with access "
            f"(`hf download {repo_id} --repo-type dataset --local-dir DIR`) and pass "
            "data.path=DIR"
        )
    if isinstance(e, EntryNotFoundError):
        return DataError(f"hub dataset {ref} has no {remote}, which data.split.kind=official "
                         "needs; use a hash split such as data.split.kind=unseen_studies")
    return _hub_error(repo_id, ref.partition("@")[2] or None, e)


# --- hub -------------------------------------------------------------------------------------


def _env_offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


@contextmanager
def _honour_offline_env() -> Iterator[None]:
    """Apply HF_HUB_OFFLINE as it is *now*.

    ``datasets`` and ``huggingface_hub`` read the variable once, at import; a setting made later
    (a test, a launcher) would be ignored and the load would spend ~20 s in network retries.
    This only ever switches offline mode on, never off.
    """
    if not _env_offline():
        yield
        return
    import datasets.config as ds_config
    from huggingface_hub import constants as hub_constants

    saved = (ds_config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE)
    ds_config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        ds_config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved


def _hub_table(path: str, revision: str | None) -> pa.Table:
    """The hub dataset as an Arrow table memory-mapped from the datasets cache."""
    import datasets

    try:
        with _honour_offline_env():
            ds = datasets.load_dataset(path, split="train", revision=revision)
    except Exception as e:  # every hub failure becomes one actionable message
        raise _hub_error(path, revision, e) from e
    return ds.with_format("arrow")[:]


def _exception_chain(e: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    return chain


def _is_unreachable(e: BaseException) -> bool:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    for err in _exception_chain(e):
        if isinstance(
            err, (ConnectionError, TimeoutError, LocalEntryNotFoundError, OfflineModeIsEnabled)
        ):
            return True
        name = type(err).__name__
        if name in ("ConnectError", "ConnectTimeout", "ReadTimeout", "NameResolutionError"):
            return True
        if "couldn't reach" in str(err).lower() or "offline" in str(err).lower():
            return True
    return False


def _hub_error(path: str, revision: str | None, e: Exception) -> DataError:
    ref = f"{path}@{revision}" if revision else path
    if _is_unreachable(e):
        return DataError(
            f"could not reach the Hugging Face hub to download {ref} (offline or no network); "
            "download it on a machine with access (e.g. `hf download "
            f"{path} --repo-type dataset --local-dir DIR`) and pass data.path=/local/dir"
        )
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(e, RevisionNotFoundError):
        return DataError(
            f"revision {revision!r} of hub dataset {path} does not exist; fix data.revision"
        )
    if isinstance(e, (DatasetNotFoundError, RepositoryNotFoundError)):
        return DataError(
            f"hub dataset {path} was not found (or is private/gated); check data.path, or log "
            "in with `hf auth login` if it needs access"
        )
    offline = " (HF_HUB_OFFLINE is set, so only cached data can load)" if _env_offline() else ""
    return DataError(f"loading hub dataset {ref} failed{offline}: {type(e).__name__}: {e}")
