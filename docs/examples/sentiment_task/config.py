"""The sentiment task's config sections (``task:`` and ``data:``) and their cross-field rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from socio_re.errors import ConfigError

LABELS = ("negative", "positive")


@dataclass
class EvalConfig:
    batch_size: int = 64
    # Score at most this many rows per split (debug=smoke sets it); null = all.
    max_rows: int | None = None


@dataclass
class TaskConfig:
    name: str = "sentiment"
    max_length: int = 64
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass
class DataConfig:
    name: str = "sentiment-sample"
    # A folder with train.jsonl, val.jsonl, test.jsonl (one {"text": ..., "label": ...} a line).
    path: str = "data/sentiment"
    # Write a generated sample into ``path`` first (rows per split; null = read real files).
    generate_sample: int | None = None
    # Train on this fraction of the training rows (debug=overfit sets it).
    subset: float = 1.0


def validate(rc) -> None:
    t: TaskConfig = rc.task
    d: DataConfig = rc.data
    if not 0 < d.subset <= 1:
        raise ConfigError("data.subset", d.subset, "a number in (0, 1]")
    if t.max_length < 8:
        raise ConfigError("task.max_length", t.max_length, "an integer >= 8")
    if rc.fold is not None:
        raise ConfigError("fold", rc.fold, "null", "sentiment has no cross-validation folds")
    if rc.model.kind != "encoder":
        raise ConfigError("model", rc.model.name, "an encoder model (model=tiny-encoder, "
                          "model=minilm)", "sentiment classifies from the [CLS] token")
