"""Prepare SocSci210 for a run: (generate sample) → load → validate → split → tokenize, cached.

Two cache levels under ``<cache_dir>/prepared``: the split (keyed by the data config and a
fingerprint of the source files) and the tokenized train/val sets (keyed additionally by the
tokenizer, chat template, system prompt, answer format and max length).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from socio_re.data.cache import build_once, fingerprint

log = logging.getLogger(__name__)

SPLIT_CACHE_VERSION = 1
TOKENIZED_CACHE_VERSION = 1
SPLITS = ("train", "val", "test")


@dataclass
class PreparedSplits:
    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    report: dict[str, Any]
    key: str


def ensure_source(data_cfg) -> str:
    """The data path, generating the sample dataset there first when configured."""
    path = data_cfg.path
    spec = data_cfg.generate_sample
    if spec is not None:
        from socio_re.data.socsci.sample import generate_sample

        def write(tmp: Path) -> None:
            log.info("generating the SocSci210-schema sample into %s", path)
            generate_sample(tmp, num_studies=spec.num_studies,
                            participants_per_study=spec.participants_per_study, seed=spec.seed)

        build_once(path, write, meta=asdict(spec))
    return path


def prepare_splits(data_cfg, cache_dir: str | Path) -> PreparedSplits:
    from socio_re.data.socsci import clean_rows, dataset_fingerprint, load_socsci, make_splits

    path = ensure_source(data_cfg)
    shaping = {
        "source": dataset_fingerprint(path, revision=data_cfg.revision),
        "split": asdict(data_cfg.split),
        "subset": data_cfg.subset,
        "max_malformed_fraction": data_cfg.max_malformed_fraction,
        "version": SPLIT_CACHE_VERSION,
    }
    key = fingerprint(shaping)
    target = Path(cache_dir) / "prepared" / f"socsci-split-{key}"

    def build(tmp: Path) -> None:
        df = load_socsci(path, revision=data_cfg.revision)
        df, report = clean_rows(df, max_malformed_fraction=data_cfg.max_malformed_fraction)
        s = data_cfg.split
        frames, manifest = make_splits(df, kind=s.kind, seed=s.seed,
                                       val_fraction=s.val_fraction,
                                       test_fraction=s.test_fraction, subset=data_cfg.subset)
        for name in SPLITS:
            frames[name].to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")

    hit = (target / ".complete").exists()
    build_once(target, build, meta=shaping)
    frames = {name: pd.read_parquet(target / f"{name}.parquet") for name in SPLITS}
    manifest = json.loads((target / "manifest.json").read_text())
    report = json.loads((target / "report.json").read_text())
    log.info("%s split %s: %s (%s)", "cached" if hit else "built", data_cfg.split.kind,
             ", ".join(f"{n}={len(frames[n])}" for n in SPLITS), target)
    if report.get("malformed"):
        log.warning("dropped %d malformed rows of %d: %s", report["malformed"], report["total"],
                    report.get("by_reason"))
    return PreparedSplits(frames, manifest, report, key)


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
    from datasets import load_from_disk

    from socio_re.tasks.socrates.formatting import tokenize_to_disk

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
                tokenizer, prepared.frames[name], tmp / name,
                system_prompt=task_cfg.system_prompt,
                include_reasoning=task_cfg.include_reasoning, max_length=task_cfg.max_length)
            if stats[name]["rows"] and not stats[name]["kept"]:
                from socio_re.errors import DataError

                raise DataError(f"every {name} row is longer than task.max_length="
                                f"{task_cfg.max_length} tokens; raise task.max_length")
        (tmp / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")

    build_once(target, build, meta=shaping)
    stats = json.loads((target / "stats.json").read_text())
    for name in names:
        s = stats[name]
        log.info("tokenized %s: %d rows, mean %.0f / max %d tokens%s", name, s["kept"],
                 s["mean_tokens"], s["max_tokens"],
                 f", {s['dropped_too_long']} longer than task.max_length dropped"
                 if s["dropped_too_long"] else "")
    return {name: load_from_disk(str(target / name)) for name in names}, stats
