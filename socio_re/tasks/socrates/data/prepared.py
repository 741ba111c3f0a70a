"""Prepare SocSci210 for a run: (generate sample) → load → validate → split → tokenize, cached.

Two cache levels under ``<cache_dir>/prepared``: the split (keyed by the data config and a
fingerprint of the source files) and the tokenized train/val sets (keyed additionally by the
tokenizer, chat template, system prompt, answer format and max length). Both are built by
streaming (``socio_re.tasks.socrates.data.prepare``, chunked tokenization workers), so the full 2.9M
rows never sit in memory; a split is only read whole when a caller asks for its frame.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socio_re.data.cache import build_once, files_present, fingerprint, generate_sample_once

log = logging.getLogger(__name__)

SPLIT_CACHE_VERSION = 2  # 2: streamed parquet parts per split
# 2: chunk directories, no merged copy; 3: int32 ids; 4: "Answer: N" line after a rationale
TOKENIZED_CACHE_VERSION = 4
SPLITS = ("train", "val", "test")


class LazyFrames(Mapping):
    """``{split: DataFrame}`` read from the split's parquet parts on first access."""

    def __init__(self, root: Path):
        self._root, self._loaded = root, {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise KeyError(name)
        if name not in self._loaded:
            from socio_re.tasks.socrates.data.prepare import read_split

            self._loaded[name] = read_split(self._root / name)
        return self._loaded[name]

    def __iter__(self):
        return iter(SPLITS)

    def __len__(self) -> int:
        return len(SPLITS)


@dataclass
class PreparedSplits:
    root: Path
    manifest: dict[str, Any]
    report: dict[str, Any]
    key: str

    def __post_init__(self):
        self.frames = LazyFrames(self.root)

    def rows(self, name: str) -> int:
        return int(self.manifest["rows"][name])

    def parts(self, name: str) -> list[Path]:
        from socio_re.tasks.socrates.data.prepare import split_parts

        return split_parts(self.root / name)

    def sample(self, name: str, max_rows: int | None, seed: int) -> pd.DataFrame:
        """``rows_to_score(frames[name], max_rows, seed)`` reading only the rows it keeps."""
        from socio_re.tasks.socrates.data.prepare import read_rows, read_split
        from socio_re.tasks.socrates.evaluate import rows_to_score

        if max_rows is None or self.rows(name) <= max_rows:
            return rows_to_score(self.frames[name], max_rows, seed)
        ids = read_split(self.root / name, columns=["sample_id"])
        picked = rows_to_score(ids.assign(_position=np.arange(len(ids))), max_rows, seed)
        return read_rows(self.root / name, picked["_position"].to_numpy())


def ensure_source(data_cfg) -> str:
    """The data path, generating the sample dataset there first when configured.

    A ``data.path`` that already holds files of the user's own (not a sample built here) is
    read as it is, even with a sample config: ``python train.py data.path=/my/rows.jsonl``
    means those rows, and generating there would replace them."""
    path = data_cfg.path
    spec = data_cfg.generate_sample

    def write(tmp: Path) -> None:
        from socio_re.tasks.socrates.data.sample import generate_sample

        log.info("generating the SocSci210-schema sample into %s", path)
        generate_sample(tmp, num_studies=spec.num_studies,
                        participants_per_study=spec.participants_per_study, seed=spec.seed)

    from socio_re.tasks.socrates.data.splits import OFFICIAL_FILES

    # The split files too: data.split.kind=official reads them from the sample.
    mappings = [f"metadata/{name}" for name in OFFICIAL_FILES.values()]
    generate_sample_once(path, spec, write, check=files_present("*.parquet", *mappings))
    return path


def split_shaping(split_cfg) -> dict[str, Any]:
    """The split settings that shape a split, for its cache key: ``official`` only counts with
    kind=official (so the keys of the hash splits are what they were before it existed), and
    ``test_fraction`` only without it (the split file fixes the test side)."""
    shaping = asdict(split_cfg)
    shaping.pop("test_fraction" if shaping["kind"] == "official" else "official", None)
    return shaping


def _split_shaping(data_cfg, path: str) -> dict[str, Any]:
    from socio_re.tasks.socrates.data import dataset_fingerprint

    return {
        # For a local directory this covers metadata/*.json as well, so an edited split file
        # builds a new split; a hub id is pinned by data.revision.
        "source": dataset_fingerprint(path, revision=data_cfg.revision),
        "split": split_shaping(data_cfg.split),
        "subset": data_cfg.subset,
        "max_malformed_fraction": data_cfg.max_malformed_fraction,
        "version": SPLIT_CACHE_VERSION,
    }


def _split_target(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / "prepared" / f"socsci-split-{key}"


def split_directory(data_cfg, cache_dir: str | Path) -> Path:
    """Where :func:`prepare_splits` keeps the split of ``data_cfg`` (``train/``, ``val/``,
    ``test/``; a run's provenance names them), without reading or building it."""
    return _split_target(cache_dir, fingerprint(_split_shaping(data_cfg,
                                                               ensure_source(data_cfg))))


def prepare_splits(data_cfg, cache_dir: str | Path) -> PreparedSplits:
    from socio_re.tasks.socrates.data.prepare import split_to_disk

    path = ensure_source(data_cfg)
    shaping = _split_shaping(data_cfg, path)
    key = fingerprint(shaping)
    target = _split_target(cache_dir, key)

    def build(tmp: Path) -> None:
        s = data_cfg.split
        manifest, report = split_to_disk(
            path, tmp, revision=data_cfg.revision, kind=s.kind, seed=s.seed,
            val_fraction=s.val_fraction, test_fraction=s.test_fraction, subset=data_cfg.subset,
            max_malformed_fraction=data_cfg.max_malformed_fraction, official=s.official)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")

    hit = (target / ".complete").exists()
    build_once(target, build, meta=shaping,
               check=files_present("manifest.json", "report.json", *SPLITS))
    manifest = json.loads((target / "manifest.json").read_text())
    report = json.loads((target / "report.json").read_text())
    prepared = PreparedSplits(target, manifest, report, key)
    kind = data_cfg.split.kind
    if kind == "official":
        kind += f" ({manifest['official']}, {manifest['mapping_file']} "
        kind += f"sha256 {manifest['mapping_sha256'][:12]})"
    log.info("%s split %s: %s (%s)", "cached" if hit else "built", kind,
             ", ".join(f"{n}={prepared.rows(n)}" for n in SPLITS), target)
    if report.get("malformed"):
        log.warning("dropped %d malformed rows of %d: %s", report["malformed"], report["total"],
                    report.get("by_reason"))
    return prepared


def tokenizer_fingerprint(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    vocab = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(),
                                                                     sort_keys=True)
    return fingerprint({"vocab": fingerprint(vocab), "chat_template": tokenizer.chat_template,
                        "eos": tokenizer.eos_token, "pad": tokenizer.pad_token,
                        "class": type(tokenizer).__name__})


def tokenized_splits(prepared: PreparedSplits, tokenizer, task_cfg, cache_dir: str | Path,
                     names: tuple[str, ...] = ("train", "val")):
    """``{name: datasets.Dataset}`` with input_ids/labels, built once per shaping inputs."""
    from socio_re.tasks.socrates.formatting import load_tokenized, tokenize_to_disk

    shaping = {
        "split_key": prepared.key,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "system_prompt": task_cfg.system_prompt,
        "include_reasoning": task_cfg.include_reasoning,
        "max_length": task_cfg.max_length,
        "version": TOKENIZED_CACHE_VERSION,
    }
    key = fingerprint(shaping)
    target = Path(cache_dir) / "prepared" / f"socsci-sft-{key}"

    def build(tmp: Path) -> None:
        stats = {}
        for name in names:
            stats[name] = tokenize_to_disk(
                tokenizer, prepared.parts(name), tmp / name,
                system_prompt=task_cfg.system_prompt,
                include_reasoning=task_cfg.include_reasoning, max_length=task_cfg.max_length)
            if stats[name]["rows"] and not stats[name]["kept"]:
                from socio_re.errors import DataError

                raise DataError(f"every {name} row is longer than task.max_length="
                                f"{task_cfg.max_length} tokens; raise task.max_length")
        (tmp / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")

    build_once(target, build, meta=shaping, check=files_present("stats.json", *names))
    stats = json.loads((target / "stats.json").read_text())
    for name in names:
        s = stats[name]
        log.info("tokenized %s: %d rows, mean %.0f / max %d tokens%s", name, s["kept"],
                 s["mean_tokens"], s["max_tokens"],
                 f", {s['dropped_too_long']} longer than task.max_length dropped"
                 if s["dropped_too_long"] else "")
    return {name: load_tokenized(target / name) for name in names}, stats
