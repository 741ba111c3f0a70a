"""Content-addressed cache directories, built atomically.

A cache entry's name carries a hash of everything that shaped it (config, source fingerprint,
tokenizer, a version), so a change to any of them builds a new entry instead of silently reusing
a stale one. Entries are built in a temporary sibling directory and renamed into place at the end,
so an interrupted build never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMPLETE_MARKER = ".complete"


def fingerprint(obj: Any, length: int = 16) -> str:
    """A stable hash of a JSON-serialisable object (dict keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def is_complete(path: Path) -> bool:
    return (Path(path) / COMPLETE_MARKER).exists()


def build_once(target: str | Path, build: Callable[[Path], Any], *, meta: Any = None) -> Path:
    """Return ``target``, calling ``build(tmp_dir)`` first if it is not complete yet."""
    target = Path(target)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        build(tmp)
        (tmp / COMPLETE_MARKER).write_text(json.dumps(meta, default=str, indent=1) + "\n")
        if target.exists():
            if is_complete(target):  # another process finished first: keep theirs
                return target
            shutil.rmtree(target)  # a leftover without its marker is garbage
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
