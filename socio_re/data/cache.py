"""Content-addressed cache directories, built once, atomically, and checked for their content.

A cache entry's name carries a hash of everything that shaped it (config, source fingerprint,
tokenizer, a version), so a change to any of them builds a new entry instead of silently reusing
a stale one. Entries are built in a temporary sibling directory and renamed into place at the end,
so an interrupted build never leaves a half-written entry behind.

Several processes may want the same entry at once (the ranks of a run, the jobs of a sweep): the
build runs under an exclusive file lock, so one process builds and the others wait and reuse it.
An entry counts only if its completion marker exists *and* its content passes the entry's check
(e.g. a model folder holds config.json with a model_type, weights and a tokenizer); a build whose
output fails the check is never published, and a published folder that fails it (written by an
older version, or damaged since) is rebuilt with one line saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"

# Returns what is missing from a built folder ("no weights file"), or None when it is whole.
ContentCheck = Callable[[Path], "str | None"]


class IncompleteBuild(RuntimeError):
    """A builder produced a folder that fails its content check (a bug, not a user mistake)."""


def fingerprint(obj: Any, length: int = 16) -> str:
    """A stable hash of a JSON-serialisable object (dict keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def files_present(*names: str) -> ContentCheck:
    """A check that each of ``names`` (glob patterns; alternatives joined by ``|``) matches
    something in the folder."""

    def check(path: Path) -> str | None:
        for name in names:
            if not any(next(path.glob(alt), None) is not None for alt in name.split("|")):
                return f"no {name.replace('|', ' or ')}"
        return None

    return check


def holds_other_files(path: str | Path) -> bool:
    """Whether ``path`` exists and is neither a cache entry (it has no completion marker) nor
    an empty folder: a file or folder of the user's own, which :func:`build_once` must never
    replace. (A sample is generated into ``data.path``, so ``data.path=/my/data`` with a
    sample config would otherwise delete /my/data.)"""
    path = Path(path).expanduser()
    if not path.exists():
        return False
    if not path.is_dir():
        return True
    return not (path / COMPLETE_MARKER).exists() and any(path.iterdir())


def is_complete(path: Path, check: ContentCheck | None = None) -> bool:
    path = Path(path)
    return (path / COMPLETE_MARKER).exists() and (check is None or check(path) is None)


def _missing(path: Path, check: ContentCheck | None) -> str | None:
    if not (path / COMPLETE_MARKER).exists():
        return "no completion marker"
    return check(path) if check is not None else None


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """Exclusive lock for building ``target``, shared by every process on this machine (and on
    a shared file system that supports flock)."""
    # Lock files stay after the build (deleting one another process holds would break the
    # lock); they live apart so that listing the entries lists only entries.
    locks = target.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{target.name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process that is building %s", target)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(target: str | Path, build: Callable[[Path], Any], *, meta: Any = None,
               check: ContentCheck | None = None) -> Path:
    """Return ``target``, calling ``build(tmp_dir)`` first unless it is already complete."""
    target = Path(target)
    if is_complete(target, check):
        return target
    with build_lock(target):
        missing = _missing(target, check) if target.exists() else "absent"
        if missing is None:  # another process built it while we waited for the lock
            return target
        if missing != "absent":
            log.warning("cache folder %s is incomplete (%s): rebuilding it", target, missing)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            build(tmp)
            if check is not None and (what := check(tmp)) is not None:
                raise IncompleteBuild(f"building {target} produced an incomplete folder ({what})")
            (tmp / COMPLETE_MARKER).write_text(json.dumps(meta, default=str, indent=1) + "\n")
            if target.exists():
                shutil.rmtree(target)  # a leftover that failed its check above
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def generate_sample_once(path: str | Path, spec: Any, write: Callable[[Path], Any],
                         check: ContentCheck | None = None) -> None:
    """Generate a sample into ``path`` once (``write(tmp)``, keyed by the dataclass ``spec``;
    ``spec=None``: a real dataset, nothing to generate). A ``path`` that holds the user's own
    files is read as it is, never generated over: ``data.path=/my/data`` with a sample config
    means that data."""
    from dataclasses import asdict

    if spec is None:
        return
    if holds_other_files(path):
        log.info("data.path=%s holds your own files: reading them (data.generate_sample "
                 "applies only to a new or generated folder)", path)
        return
    build_once(path, write, meta=asdict(spec), check=check)

