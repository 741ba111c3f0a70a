"""Which checkpoint a run resumes from, and the marker that says a checkpoint's save finished.

A checkpoint is trusted only when its files check out, because a save cut short (preemption,
``kill -9``, a full disk) leaves a folder that looks like a checkpoint:

- **The completeness marker** (:data:`MARKER`), written by
  ``training.callbacks.CompletenessMarkerCallback`` once every rank's save returned: it lists
  every file of the checkpoint with its size, and is written atomically (temp file, fsync,
  rename, fsync of the folder) after the files themselves were fsynced. A file missing or of
  another size than listed means the folder was damaged after the save.
- **The contents**, checked with or without a marker: ``trainer_state.json`` parses; model
  weights are there and every ``*.safetensors`` header parses and matches the file's size;
  optimizer state is there and every torch ``*.pt``/``*.pth`` archive opens (a truncated zip
  has no central directory). Cheap: headers and directories only, no tensor is read.

A folder without a marker (saved by plain transformers or an older socio_re, or killed between
the Trainer's save and the marker) is used when its contents check out, since the Trainer
writes ``trainer_state.json`` last. The newest checkpoint that passes is resumed from; each one
skipped is logged with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import zipfile
from pathlib import Path

from socio_re.errors import ConfigError

log = logging.getLogger(__name__)

MARKER = "socio_re_complete.json"
STATE_FILE = "trainer_state.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def _safetensors_problem(path: Path) -> str | None:
    """A safetensors file is an 8-byte header length, a JSON header giving every tensor's byte
    range, then the data: the file must be exactly as long as the header says."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return "is cut short (no header)"
        (n,) = struct.unpack("<Q", head)
        if 8 + n > size:
            return "is cut short (inside its header)"
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            return "has a header that does not parse"
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    expected = 8 + n + max(ends, default=0)
    if size != expected:
        return f"has {size} bytes where its header says {expected} (cut short)"
    return None


def _archive_problem(path: Path) -> str | None:
    """torch.save writes a zip archive; a truncated one has no central directory."""
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError):
        return "is not a complete torch archive (cut short)"


def _has_weights(path: Path) -> bool:
    # single process, DDP, LoRA, gathered ZeRO-3: safetensors; FSDP: a sharded model folder;
    # DeepSpeed: its global_step* folder of shards.
    return any(path.glob("*.safetensors")) or any(path.glob("pytorch_model_fsdp_*")) or any(
        path.glob("global_step*"))


def _has_optimizer(path: Path) -> bool:
    return (path / "optimizer.pt").exists() or any(path.glob("optimizer_*")) or any(
        path.glob("global_step*"))


def _marker_problem(path: Path) -> str | None:
    try:
        listed = json.loads((path / MARKER).read_text())["files"]
    except (ValueError, KeyError, TypeError, OSError):
        return f"its {MARKER} does not parse"
    for rel, size in listed.items():
        file = path / rel
        if not file.is_file():
            return f"{rel} is missing"
        if file.stat().st_size != size:
            return (f"{rel} has {file.stat().st_size} bytes, {size} when it was saved "
                    "(cut short or changed since)")
    return None


def _contents_problem(path: Path) -> str | None:
    try:
        json.loads((path / STATE_FILE).read_text())
    except FileNotFoundError:
        return f"no {STATE_FILE} (its save did not finish)"
    except (ValueError, OSError):
        return f"{STATE_FILE} does not parse (cut short)"
    if not _has_weights(path):
        return "no model weights"
    if not _has_optimizer(path):
        return "no optimizer state (optimizer.pt missing)"
    for file in sorted(path.rglob("*")):
        if file.suffix == ".safetensors":
            problem = _safetensors_problem(file)
        elif file.suffix in (".pt", ".pth") and file.is_file():
            problem = _archive_problem(file)
        else:
            continue
        if problem:
            return f"{file.relative_to(path)} {problem}"
    return None


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from, or None when it can (module docstring)."""
    path = Path(path)
    if not path.is_dir():
        return "not a directory"
    if not any(path.iterdir()):
        return "empty directory"
    if (path / MARKER).exists():
        problem = _marker_problem(path)
        if problem:
            return problem
    return _contents_problem(path)


def is_complete_checkpoint(path: Path) -> bool:
    return checkpoint_problem(path) is None


def newest_complete_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest ``checkpoint-N`` that passes :func:`checkpoint_problem`.

    Not ``transformers.trainer_utils.get_last_checkpoint``: that returns the highest
    ``checkpoint-N`` folder whether or not its save finished, so a run killed while saving
    would resume from a torn folder and fail on every re-run; here such a folder is skipped
    with one line saying why, and the next older good one is used."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for p in checkpoint_dir.iterdir():
        m = _CKPT.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    for _, p in sorted(found, reverse=True):
        problem = checkpoint_problem(p)
        if problem is None:
            return p
        log.warning("skipping checkpoint %s: %s; trying the one before it", p, problem)
    return None


def resolve_resume(resume: str, checkpoint_dir: Path) -> Path | None:
    """``auto``: newest complete checkpoint or none; ``never``: none; else that directory."""
    if resume in ("never", "false", "False", "no"):
        return None
    if resume == "auto":
        return newest_complete_checkpoint(checkpoint_dir)
    path = Path(resume).expanduser()
    problem = checkpoint_problem(path)
    if problem:
        raise ConfigError("resume", resume, "auto, never, or a complete checkpoint directory",
                          f"{path}: {problem}")
    return path


# --- writing the marker ------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_marker(path: Path, step: int, ranks: dict[str, str] | None = None) -> None:
    """List the checkpoint's files with their sizes in :data:`MARKER`, durably: the files are
    fsynced first, the marker goes through a temp file and a rename, then the folder is
    fsynced, so a crash at any moment leaves either no marker or a true one. ``ranks``
    ({rank: host}) says which host saved each rank's part of a sharded checkpoint."""
    files = {}
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.name != MARKER and not file.name.startswith(f".{MARKER}"):
            _fsync(file)
            files[str(file.relative_to(path))] = file.stat().st_size
    tmp = path / f".{MARKER}.tmp"
    with tmp.open("w") as fh:
        json.dump({"step": step, "files": files, **({"ranks": ranks} if ranks else {})}, fh,
                  indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path / MARKER)
    _fsync(path)
