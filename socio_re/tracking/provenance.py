"""A run's provenance: what it takes to reproduce it, recorded before it trains.

``<run_dir>/provenance.json`` (rank 0, written atomically) holds the code's git commit and
whether the tree was dirty, every seed of the config, the content digest of the data (the
source and each split the run read), the base model's content digest or hub revision, the
platform (OS, Python, CPUs, memory, accelerator and its name, world size) and the versions of
the packages that decide the numbers. The tracked run gets the same as ``provenance.*`` tags
(tags, not params: a resumed run on a newer environment updates them, and ``compare`` reads
them), the file as an artifact, and the data as MLflow dataset inputs (the UI's dataset column).

Digests are :func:`socio_re.data.digest.content_digest`: each file is read once, then its hash
is remembered by size and mtime, so the provenance of a run over files already seen costs
almost nothing. Nothing here may stop a run: a part that cannot be worked out says why in its
``error`` field instead.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socio_re.config.paths import PACKAGE_DIR

# The task's hook (``data_splits`` of its run module): the prepared folder a run reads and the
# files of each split in it. Tasks sit above tracking, so the hook is handed in.
SplitFiles = Callable[[Any], tuple[Path, dict[str, list[Path]]]]

if TYPE_CHECKING:
    from socio_re.config.schema import ModelConfig, StrategyConfig
    from socio_re.tracking.tracker import Tracker

log = logging.getLogger(__name__)

PROVENANCE_FILE = "provenance.json"
FORMAT = 1
TAG_PREFIX = "provenance."
NOT_INSTALLED = "not installed"
UNKNOWN = "unknown"
# The distributions that decide a run's numbers (names as pip knows them).
PACKAGES = ("torch", "transformers", "peft", "accelerate", "deepspeed", "bitsandbytes",
            "datasets", "tokenizers", "safetensors", "huggingface-hub", "mlflow", "hydra-core",
            "omegaconf", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "socio_re")
# Fields that say where something is or how big it is, not what it is: kept in the file, not
# made tags (a run's cache folder differs from machine to machine; compare would list it).
UNTAGGED_LEAVES = frozenset({"name", "name_or_path", "source", "path", "prepared", "files",
                             "bytes", "rows"})
UNTAGGED_TOP = frozenset({"format", "created"})
SOURCE_CONTEXT = "source"  # the dataset input of the data the splits were made from
HUB_CACHE_COMMIT = 40  # length of a full git sha: a revision given as one is the commit


@dataclass(frozen=True)
class DatasetRecord:
    """One dataset input of the run, for MLflow's dataset tracking (``mlflow.data``)."""

    name: str
    digest: str
    context: str  # train | val | test | source
    source: str  # a local path or a hub id
    source_type: str = "local"  # local | hugging_face
    revision: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    def source_spec(self) -> dict[str, Any]:
        """The source as MLflow's own source classes write it (``{"uri"}`` for local files,
        ``{"path", "revision"}`` for the hub)."""
        if self.source_type == "hugging_face":
            return {"path": self.source, "revision": self.revision}
        return {"uri": self.source}


# --- parts -----------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(cwd: Path = PACKAGE_DIR) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of the code's checkout; commit ``unknown`` (and dirty
    None) outside one (an installed wheel). Untracked files do not make it dirty: they are
    not part of the code that ran unless imported, and scratch files are everywhere."""
    sha = _git(["rev-parse", "HEAD"], cwd)
    if not sha:
        return {"commit": UNKNOWN, "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": sha, "dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def _section(rc: Any, name: str) -> dict[str, Any]:
    value = getattr(rc, name, None)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value if isinstance(value, dict) else {}


def seeds_of(rc: Any) -> dict[str, Any]:
    """``seed`` and every other ``*seed`` setting of the config (split, fold, sample, eval,
    ``trainer.hf_args.data_seed``), by dotted key; unset ones left out."""
    from socio_re.tracking.params import flatten

    flat = flatten({name: _section(rc, name) for name in ("data", "task", "trainer")})
    found = {k: v for k, v in flat.items()
             if k.rsplit(".", 1)[-1].endswith("seed") and v is not None}
    return {"seed": rc.seed, **dict(sorted(found.items()))}


def world_size(strategy: StrategyConfig | None) -> int:
    """The processes training together: the launcher's ``WORLD_SIZE`` on a rank, else the
    strategy's process count times the job's nodes (what the run would start)."""
    from socio_re.utils.world import world_size as processes

    return processes(getattr(strategy, "num_processes", None))


def accelerator_info() -> dict[str, Any]:
    """The accelerator this process trains on. torch is imported here only when a run has
    not already done so (it always has)."""
    import torch

    if torch.cuda.is_available():
        info: dict[str, Any] = {"accelerator": "cuda", "gpu": torch.cuda.get_device_name(0),
                                "gpu_count": torch.cuda.device_count()}
        if torch.version.hip:
            info["hip"] = torch.version.hip
        else:
            info["cuda"] = torch.version.cuda
            info["cudnn"] = torch.backends.cudnn.version()
        return info
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return {"accelerator": "mps"}
    return {"accelerator": "cpu"}


def _memory_gb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.virtual_memory().total / 2**30, 1)


def _intra_op_threads() -> int | None:
    import sys

    torch = sys.modules.get("torch")  # a run has imported it; a bare call need not
    return torch.get_num_threads() if torch is not None else None


def platform_info(strategy: StrategyConfig | None = None) -> dict[str, Any]:
    affinity = getattr(os, "sched_getaffinity", None)
    info: dict[str, Any] = {
        "os": platform.platform(), "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        # What the job may use (SLURM and taskset restrict it), not what the machine has.
        "cpus_usable": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "world_size": world_size(strategy),
        # The one setting found to move a CPU result (the order of a matrix product's
        # additions): docs/reliability.md, "Checking that a result reproduces".
        "intra_op_threads": _intra_op_threads(),
    }
    info.update(_guarded(accelerator_info))
    return {k: v for k, v in info.items() if v is not None}


def _hub_cache_commit(repo_id: str, repo_type: str, revision: str) -> str | None:
    """The commit ``revision`` points at in the local Hugging Face cache (read offline from
    its ``refs/`` folder), or None when the repo was never downloaded here."""
    if len(revision) == HUB_CACHE_COMMIT and all(c in "0123456789abcdef" for c in revision):
        return revision
    try:
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        ref = (Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id,
               repo_type=repo_type) / "refs" / revision)
        return ref.read_text().strip() or None
    except (OSError, ImportError, ValueError):
        return None


def model_provenance(model_cfg: ModelConfig) -> dict[str, Any]:
    """A local model folder (an offline-built tiny model, a packaged one, a checkpoint) by the
    content digest of its files; a hub model by its revision: ``model.revision``, else the
    commit its snapshot in the local cache came from, else ``main``."""
    from socio_re.data.digest import content_digest
    from socio_re.models.load import resolve_model_path

    out: dict[str, Any] = {"name": model_cfg.name, "name_or_path": model_cfg.name_or_path}
    path = resolve_model_path(model_cfg)  # built before the run was tracked: no work here
    local = Path(path).expanduser()
    if local.exists():
        out.update(path=str(local.resolve()), digest=content_digest(local))
        if model_cfg.local_package:
            out["package"] = _distribution_version(model_cfg.local_package)
        return out
    commit = _hub_cache_commit(path, "model", model_cfg.revision or "main")
    revision = model_cfg.revision or commit or "main"
    out.update(revision=revision, digest=f"hub:{path}@{revision}")
    if commit and commit != revision:
        out["commit"] = commit
    return out


def _distribution_version(module: str) -> str:
    name = module.replace("_", "-")
    try:
        return f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{name} {NOT_INSTALLED}"


# --- data ------------------------------------------------------------------------------------


def _split_rows(root: Path) -> dict[str, int]:
    """Rows per split where the prepared folder's ``manifest.json`` says (``{}`` without)."""
    try:
        rows = json.loads((root / "manifest.json").read_text()).get("rows", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: int(v) for k, v in rows.items() if isinstance(v, int)}


def _source_digest(rc: Any) -> tuple[str, str, str | None]:
    """(source, digest, revision) of the data the splits were made from: a local folder by
    its content, a hub dataset as ``hub:<id>@<revision>``."""
    from socio_re.config.tasks import get_task
    from socio_re.data.digest import content_digest

    path, revision = str(rc.data.path), getattr(rc.data, "revision", None)
    local = Path(path).expanduser()
    task_digest = get_task(rc.task.name).hook("source_digest")
    if task_digest is not None:  # the task keys its data cache by its own digest
        return (str(local.resolve()) if local.exists() else path, task_digest(rc), revision)
    if local.exists():
        return str(local.resolve()), content_digest(local), revision
    return path, f"hub:{path}@{revision or 'main'}", revision


def data_provenance(rc: Any, splits: SplitFiles | None = None
                    ) -> tuple[dict[str, Any], list[DatasetRecord]]:
    """The data's section of the provenance and its MLflow dataset inputs (the source, and
    each split ``splits`` names)."""
    from socio_re.tracking.params import redact_value

    name = str(getattr(rc.data, "name", rc.task.name))
    source, digest, revision = _source_digest(rc)
    source = redact_value(source)  # a URL may carry a password
    on_hub = digest.startswith("hub:")
    out: dict[str, Any] = {"name": name, "source": source, "digest": digest}
    if on_hub:
        out["revision"] = revision or "main"
        if commit := _hub_cache_commit(source, "dataset", revision or "main"):
            out["commit"] = commit
    records = [DatasetRecord(name, digest, SOURCE_CONTEXT, source,
                             "hugging_face" if on_hub else "local", out.get("revision"))]
    if splits is None:
        return out, records
    split_out, split_records = _splits_provenance(rc, name, splits)
    out.update(split_out)
    return out, records + split_records


def _splits_provenance(rc: Any, name: str, split_files: SplitFiles
                       ) -> tuple[dict[str, Any], list[DatasetRecord]]:
    """Each split's content digest (and size), and its dataset input."""
    from socio_re.data.digest import content_digest

    try:
        root, splits = split_files(rc)
    except Exception as exc:
        return {"splits": {"error": _one_line(exc)}}, []
    rows = _split_rows(root)
    section: dict[str, Any] = {}
    records = []
    for split, files in splits.items():
        if not files:
            continue
        entry = {"digest": content_digest(root, files), "files": len(files),
                 "bytes": sum(f.stat().st_size for f in files)}
        if split in rows:
            entry["rows"] = rows[split]
        section[split] = entry
        profile = {k: v for k, v in entry.items() if k != "digest"}
        records.append(DatasetRecord(name, entry["digest"], split, str(root / split)
                                     if (root / split).is_dir() else str(root),
                                     profile=profile))
    return {"prepared": str(root), "splits": section}, records


# --- assembling ------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    from socio_re.tracking.store import one_line

    return f"{type(exc).__name__}: {one_line(exc)}"


def _guarded(part: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A part of the provenance, or why it could not be worked out (never a failed run)."""
    try:
        return part()
    except Exception as exc:
        return {"error": _one_line(exc)}


def build_provenance(rc: Any, splits: SplitFiles | None = None
                     ) -> tuple[dict[str, Any], list[DatasetRecord]]:
    """The provenance of the run ``rc`` describes, and its dataset inputs."""
    try:
        data, datasets = data_provenance(rc, splits)
    except Exception as exc:
        data, datasets = {"error": _one_line(exc)}, []
    provenance = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": _guarded(git_state),
        "seeds": _guarded(lambda: seeds_of(rc)),
        "data": data,
        "model": _guarded(lambda: model_provenance(rc.model)),
        "platform": _guarded(lambda: platform_info(rc.strategy)),
        "versions": _guarded(package_versions),
    }
    return provenance, datasets


def write_provenance(run_dir: Path, provenance: dict[str, Any]) -> Path:
    """``<run_dir>/provenance.json``, replaced in one step (a kill mid-write leaves the old
    one, not half a file)."""
    path = Path(run_dir) / PROVENANCE_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(provenance, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read_provenance(run_dir: Path) -> dict[str, Any] | None:
    from socio_re.utils.files import read_json_or_none

    found = read_json_or_none(Path(run_dir) / PROVENANCE_FILE)
    return found if isinstance(found, dict) else None


def _tag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return UNKNOWN if value is None else str(value)


def provenance_tags(provenance: dict[str, Any]) -> dict[str, str]:
    """The provenance as flat ``provenance.<section>.<field>`` tags (``provenance.git.commit``,
    ``provenance.versions.torch``, ``provenance.data.splits.train.digest``); locations and
    sizes stay in the file only."""
    from socio_re.tracking.params import flatten

    flat = flatten({k: v for k, v in provenance.items() if k not in UNTAGGED_TOP})
    return {TAG_PREFIX + k: _tag_value(v) for k, v in flat.items()
            if k.rsplit(".", 1)[-1] not in UNTAGGED_LEAVES}


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = provenance_tags(old), provenance_tags(new)
    return [f"{k.removeprefix(TAG_PREFIX)} {before[k]} -> {after.get(k, '-')}"
            for k in sorted(before) if before[k] != after.get(k, "-")]


def record_provenance(rc: Any, run_dir: Path, tracker: Tracker,
                      splits: SplitFiles | None = None) -> dict[str, Any] | None:
    """Rank 0: write ``provenance.json``, tag the tracked run with it, log the data as its
    dataset inputs and the file as an artifact. Other ranks do nothing (same run, same data).
    ``splits``: the task's ``data_splits`` hook."""
    from socio_re.tracking.tracker import is_rank_zero

    if not is_rank_zero():
        return None
    try:
        return _record(rc, run_dir, tracker, splits)
    except Exception as exc:  # a full disk, a bug: the run goes on without its provenance
        log.warning("provenance not recorded: %s", _one_line(exc))
        return None


def _record(rc: Any, run_dir: Path, tracker: Tracker, splits: SplitFiles | None
            ) -> dict[str, Any]:
    started = time.monotonic()
    provenance, datasets = build_provenance(rc, splits)
    earlier = read_provenance(run_dir)
    if earlier is not None and (changed := _changed_fields(earlier, provenance)):
        # A resumed run mixing two environments: the record keeps the latest one only.
        log.warning("this attempt's provenance differs from the earlier attempt's: %s",
                    "; ".join(changed[:6]) + (" ..." if len(changed) > 6 else ""))
    path = write_provenance(run_dir, provenance)
    tracker.set_tags(provenance_tags(provenance))
    tracker.log_artifact(path)
    tracker.log_datasets(datasets)
    log.info("provenance in %s (%.1f s): commit %s, data %s, model %s", path,
             time.monotonic() - started, _tag_value(provenance["git"].get("commit")),
             provenance["data"].get("digest", "?"), provenance["model"].get("digest", "?"))
    return provenance
