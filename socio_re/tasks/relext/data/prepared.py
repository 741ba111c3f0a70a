"""Prepare relext data for a run: read the corpus → build pair instances → assign folds, cached.

The cache entry is written in the reference pipeline's own format (``split_0.json`` …
``split_{k-1}.json`` + ``test.json``), so the persisted folds can be handed to that pipeline and
``data.format=split_files`` reads such a directory back unchanged.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from socio_re.data.cache import build_once, files_present, fingerprint, generate_sample_once

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: gold_relations_{train,test}.tsv; 3: keyed by content digest


@dataclass
class PreparedRelext:
    instances: list          # every training-corpus instance, with its fold in fold_of
    fold_of: dict[str, int]  # abstract_id -> fold
    test: list               # test instances (may be empty)
    stats: dict[str, Any]
    directory: Path


def _source_fingerprint(path: Path) -> str:
    """The corpus files' content digest: the same files give the same prepared entry, wherever
    and whenever they were written."""
    from socio_re.data.digest import content_digest

    return content_digest(path)


def ensure_source(data_cfg) -> Path:
    path = Path(data_cfg.path).expanduser()
    spec = data_cfg.generate_sample

    def write(tmp: Path) -> None:
        from socio_re.tasks.relext.data.sample import generate_litcoin_sample

        log.info("generating the LitCoin-format sample into %s", path)
        generate_litcoin_sample(tmp, num_train=spec.num_train, num_test=spec.num_test,
                                seed=spec.seed, profile=spec.profile, num_dev=spec.num_dev)

    generate_sample_once(path, spec, write, check=files_present("*"))
    if not path.exists():
        from socio_re.errors import DataError

        raise DataError(f"data.path={str(path)!r} does not exist; point it at a directory of "
                        "LitCoin, BioRED PubTator/BioC or split_k.json files")
    return path


def _shaping(data_cfg, path: Path) -> dict[str, Any]:
    # The source's content digest stands for data.path: the same files in another folder (or
    # another cache) are the same prepared entry.
    return {"data": {k: v for k, v in asdict(data_cfg).items() if k not in ("name", "path")},
            "source": _source_fingerprint(path), "version": CACHE_VERSION}


def _target(cache_dir: str | Path, shaping: dict[str, Any]) -> Path:
    return Path(cache_dir) / "prepared" / f"relext-{fingerprint(shaping)}"


def prepared_directory(data_cfg, cache_dir: str | Path) -> Path:
    """Where :func:`prepare` keeps the instances of ``data_cfg`` (a run's provenance names
    them), without reading or building them."""
    return _target(cache_dir, _shaping(data_cfg, ensure_source(data_cfg)))


def prepare(data_cfg, cache_dir: str | Path) -> PreparedRelext:
    from socio_re.tasks.relext.data.folds import folds_from_split_files

    path = ensure_source(data_cfg)
    shaping = _shaping(data_cfg, path)
    target = _target(cache_dir, shaping)
    hit = (target / ".complete").exists()
    build_once(target, lambda tmp: _build(data_cfg, path, tmp), meta=shaping,
               check=files_present("stats.json", "split_0.json", "gold_relations_train.tsv"))
    fold_of, instances, test = folds_from_split_files(target)
    stats = json.loads((target / "stats.json").read_text())
    log.info("%s relext data: %d training instances in %d folds, %d test instances (%s)",
             "cached" if hit else "built", len(instances), data_cfg.num_folds, len(test), target)
    return PreparedRelext(instances, fold_of, test, stats, target)


def _build(data_cfg, path: Path, out: Path) -> None:
    from socio_re.errors import DataError
    from socio_re.tasks.relext.data.folds import (
        assign_folds,
        folds_from_split_files,
        split_paths,
        write_split_files,
    )
    from socio_re.tasks.relext.data.instances import build_instances, type_pairs_of
    from socio_re.tasks.relext.gold import (
        gold_file,
        write_gold_from_documents,
        write_gold_from_instances,
    )

    if data_cfg.format == "split_files":
        # Pre-split instance files: the folds are the files; copy them as they are.
        fold_of, instances, test = folds_from_split_files(path)
        n = len(split_paths(path))
        if n != data_cfg.num_folds:
            raise DataError(
                f"{path} holds {n} split files (split_0.json ... split_{n - 1}.json) but "
                f"data.num_folds={data_cfg.num_folds}: fold k validates on split_k.json; set "
                f"data.num_folds={n}"
            )
        write_split_files(instances, fold_of, out, test_instances=test, k=n)
        write_gold_from_instances(instances, gold_file(out, "train"))
        write_gold_from_instances(test, gold_file(out, "test"))
        stats = {"source": "split_files", "train": _class_counts(instances),
                 "test": _class_counts(test)}
        (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
        return

    from socio_re.tasks.relext.data.readers import read_corpus

    corpus = read_corpus(path, data_cfg.format)
    missing = [s for s in data_cfg.train_splits if s not in corpus]
    if missing:
        raise DataError(f"data.train_splits={data_cfg.train_splits} but {path} has only the "
                        f"splits {sorted(corpus)}; set data.train_splits accordingly")
    _check_training_splits(data_cfg, path, corpus)
    train_docs = [d for s in data_cfg.train_splits for d in corpus[s]]
    if data_cfg.subset < 1:
        keep = min(len(train_docs), max(2, round(len(train_docs) * data_cfg.subset)))
        chosen = set(random.Random(data_cfg.fold_seed).sample(sorted(d.id for d in train_docs),
                                                               keep))
        train_docs = [d for d in train_docs if d.id in chosen]
    if len(train_docs) < data_cfg.num_folds:
        raise DataError(
            f"{path}: {len(train_docs)} training document(s) (data.train_splits="
            f"{list(data_cfg.train_splits)}, data.subset={data_cfg.subset}), fewer than "
            f"data.num_folds={data_cfg.num_folds}: every fold needs at least one; add documents "
            "or lower data.num_folds"
        )
    test_docs = corpus.get(data_cfg.test_split, []) if data_cfg.test_split else []
    pairs = type_pairs_of(train_docs) if data_cfg.filter_type_pairs else None
    instances, train_stats = build_instances(train_docs, context=data_cfg.context,
                                             type_pairs=pairs)
    test, test_stats = build_instances(test_docs, context=data_cfg.context, type_pairs=pairs)
    fold_of = assign_folds(sorted({d.id for d in train_docs}), k=data_cfg.num_folds,
                           seed=data_cfg.fold_seed)
    write_split_files(instances, fold_of, out, test_instances=test)
    # Every curated relation, also of pairs no instance carries: the shared task's gold.
    write_gold_from_documents(train_docs, gold_file(out, "train"))
    write_gold_from_documents(test_docs, gold_file(out, "test"))
    stats = {"train": train_stats, "test": test_stats,
             "type_pairs": sorted("|".join(sorted(p)) for p in pairs) if pairs else None,
             "documents": {"train": len(train_docs), "test": len(test_docs)}}
    (out / "stats.json").write_text(json.dumps(stats, indent=1, default=str) + "\n")


def _check_training_splits(data_cfg, path: Path, corpus: dict) -> None:
    """An abstract may sit in one training split only: its pairs would otherwise count twice
    and could land on both sides of a fold."""
    from socio_re.errors import DataError

    split_of: dict[str, str] = {}
    for split in data_cfg.train_splits:
        for doc in corpus[split]:
            if split_of.setdefault(doc.id, split) != split:
                raise DataError(
                    f"{path}: document {doc.id} is in both the {split_of[doc.id]!r} and the "
                    f"{split!r} split; remove one copy (data.train_splits="
                    f"{list(data_cfg.train_splits)} are read together)"
                )


def _class_counts(instances) -> dict[str, int]:
    counts: dict[str, int] = {}
    for inst in instances:
        counts[inst.type] = counts.get(inst.type, 0) + 1
    return counts
