"""Content digests of data and model files: the identity of what a run read.

A digest is the sha256 of every file's relative name and content, so two copies of the same
files have the same digest wherever and whenever they were written (a size-and-mtime key would
differ between two builds of identical files, and would stay the same for a file edited in
place within the same second). Cache keys of prepared data and the provenance of a run both use
it.

Reading GBs on every run would be slow, so each file's content hash is remembered in a small
JSON memo under the cache directory, by its absolute path, with its size and mtime in
nanoseconds: a file is read again only when one of those changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

MEMO_FILE = "file_digests.json"
_CHUNK = 1 << 20


def _memo_path() -> Path | None:
    cache = os.environ.get("SOCIO_RE_CACHE_DIR")
    return Path(cache).expanduser() / MEMO_FILE if cache else None


def _load_memo(path: Path | None) -> dict[str, list]:
    if path is None:
        return {}
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _save_memo(path: Path | None, memo: dict[str, list]) -> None:
    """Write the memo atomically; a failure to write it only costs a re-read next time."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(memo, handle, sort_keys=True)
        os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_digest(root: str | Path, files: Iterable[Path] | None = None,
                   length: int = 16) -> str:
    """sha256 over ``files`` (default: every file under ``root`` but hidden ones and the
    cache's completion marker), each as its path relative to ``root`` and its content hash.
    ``root`` may be a single file."""
    root = Path(root).expanduser().resolve()
    if files is None:
        if root.is_file():
            files = [root]
        else:
            files = (p for p in root.rglob("*") if p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(root).parts))
    memo_path = _memo_path()
    memo = _load_memo(memo_path)
    changed = False
    digest = hashlib.sha256()
    for f in sorted(Path(p).resolve() for p in files):
        stat = f.stat()
        seen = memo.get(str(f))
        if not (isinstance(seen, list) and seen[:2] == [stat.st_size, stat.st_mtime_ns]):
            # One entry per path: a changed file replaces its old hash.
            seen = memo[str(f)] = [stat.st_size, stat.st_mtime_ns, file_sha256(f)]
            changed = True
        name = f.name if f == root else f.relative_to(root).as_posix()
        digest.update(f"{name}\0{seen[2]}\n".encode())
    if changed:
        _save_memo(memo_path, memo)
    return digest.hexdigest()[:length]
