"""Readers for relation-extraction corpora: LitCoin TSV, PubTator and BioC JSON.

:func:`read_corpus` is the entry point: it takes ``data.path`` (a directory or one file) and
``data.format`` and returns the documents of each split found, keyed ``train`` / ``dev`` /
``test``. Every reader produces the same :class:`~socio_re.tasks.relext.data.documents.Document`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.relext.data.documents import Document
from socio_re.tasks.relext.data.readers.bioc import read_bioc_json
from socio_re.tasks.relext.data.readers.litcoin import read_litcoin, write_litcoin
from socio_re.tasks.relext.data.readers.pubtator import (
    read_pubtator,
    relation_lines,
    write_pubtator,
)

__all__ = [
    "FORMATS",
    "read_bioc_json",
    "read_corpus",
    "read_litcoin",
    "read_pubtator",
    "relation_lines",
    "split_name",
    "write_litcoin",
    "write_pubtator",
]

FORMATS = ("auto", "litcoin", "pubtator", "bioc")
_SPLIT_ORDER = ("train", "dev", "test")
# Words that name a split inside a file name (BioRED: Train/Dev/Test; others use val, devel...).
_SPLIT_WORDS = {
    "train": "train", "training": "train",
    "dev": "dev", "devel": "dev", "development": "dev",
    "val": "dev", "valid": "dev", "validation": "dev",
    "test": "test", "testing": "test",
}
_LITCOIN_RE = re.compile(r"^abstracts_(.+)\.csv$", re.IGNORECASE)
_PUBTATOR_HEAD = re.compile(r"^[^\t|]+\|[ta]\|")
_LOOKED_FOR = {
    "litcoin": "LitCoin abstracts_<split>.csv (+ entities_<split>.csv)",
    "pubtator": "PubTator *.PubTator / *.pubtator / *.txt (starting with a PMID|t|title line)",
    "bioc": 'BioC *.BioC.JSON / *.json (with a top-level "documents" list)',
}

Reader = Callable[[Path], list[Document]]


def split_name(filename: str) -> str:
    """``Train.PubTator`` -> ``train``, ``Dev.BioC.JSON`` -> ``dev``, ``x_val.json`` -> ``dev``.

    Falls back to the lower-cased name before the first dot when no split word is in it.
    """
    stem = filename.split(".", 1)[0].lower()
    for word in re.split(r"[_\-\s]+", stem):
        if word in _SPLIT_WORDS:
            return _SPLIT_WORDS[word]
    return stem


def read_corpus(path: str | Path, fmt: str = "auto") -> dict[str, list[Document]]:
    """Documents per split (``train``, ``dev``, ``test`` first, others after, sorted)."""
    if fmt not in FORMATS:
        raise ConfigError("data.format", fmt, ", ".join(FORMATS))
    root = Path(path)
    if not root.exists():
        raise DataError(
            f"data.path={path} does not exist; point it at a LitCoin/BioRED directory or file"
        )
    found = _find_litcoin(root, fmt) or _find_pubtator(root, fmt) or _find_bioc(root, fmt)
    if not found:
        wanted = ", ".join(_LOOKED_FOR.values()) if fmt == "auto" else _LOOKED_FOR[fmt]
        raise DataError(
            f"data.path={path} holds no recognisable relext corpus (data.format={fmt}); looked "
            f"for {wanted}. Point data.path at the folder that holds them or set data.format"
        )
    return {split: found[split] for split in sorted(found, key=_split_key)}


def _split_key(split: str) -> tuple[int, str]:
    return (_SPLIT_ORDER.index(split) if split in _SPLIT_ORDER else len(_SPLIT_ORDER), split)


def _candidates(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file()) if root.is_dir() else [root]


def _by_split(files: list[Path], reader: Reader) -> dict[str, list[Document]]:
    splits: dict[str, list[Document]] = {}
    origin: dict[str, Path] = {}
    for f in files:
        split = split_name(f.name)
        if split in splits:
            raise DataError(
                f"{origin[split]} and {f} both look like the {split!r} split; keep one of them "
                "or point data.path at a single file"
            )
        origin[split] = f
        splits[split] = reader(f)
    return splits


def _find_litcoin(root: Path, fmt: str) -> dict[str, list[Document]]:
    if fmt not in ("auto", "litcoin"):
        return {}
    if root.is_file():
        # A single LitCoin file stands for its split: abstracts_/entities_/relations_<split>.csv.
        m = re.match(r"^(?:abstracts|entities|relations)_(.+)\.csv$", root.name, re.IGNORECASE)
        if not m or (fmt == "auto" and not root.name.lower().startswith("abstracts_")):
            return {}
        return {split_name(m.group(1)): read_litcoin(root.parent, m.group(1))}
    splits: dict[str, list[Document]] = {}
    for f in _candidates(root):
        m = _LITCOIN_RE.match(f.name)
        if m:
            splits[split_name(m.group(1))] = read_litcoin(root, m.group(1))
    return splits


def _head(path: Path, size: int = 4096) -> str:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as f:
            return f.read(size)
    except OSError:
        return ""


def _looks_pubtator(path: Path) -> bool:
    first = next((line for line in _head(path).splitlines() if line.strip()), "")
    return bool(_PUBTATOR_HEAD.match(first))


def _find_pubtator(root: Path, fmt: str) -> dict[str, list[Document]]:
    if fmt not in ("auto", "pubtator"):
        return {}
    # A *.PubTator file is read whatever it holds (the reader says what is wrong with it); a
    # *.txt file only when it starts like PubTator.
    files = [
        f for f in _candidates(root)
        if f.suffix.lower() == ".pubtator" or (f.suffix.lower() == ".txt" and _looks_pubtator(f))
    ]
    if fmt == "pubtator" and root.is_file():
        files = [root]  # named explicitly: let the reader report what is wrong with it
    return _by_split(files, read_pubtator)


def _looks_bioc(path: Path) -> bool:
    head = _head(path).lstrip()
    return head.startswith("{") and ('"documents"' in head or '"passages"' in head)


def _find_bioc(root: Path, fmt: str) -> dict[str, list[Document]]:
    if fmt not in ("auto", "bioc"):
        return {}
    # A *.BioC.JSON file is read whatever it holds; another *.json only when it looks like BioC.
    files = [f for f in _candidates(root) if f.name.lower().endswith(".bioc.json")
             or (f.suffix.lower() == ".json" and _looks_bioc(f))]
    if fmt == "bioc" and root.is_file():
        files = [root]
    return _by_split(files, read_bioc_json)
