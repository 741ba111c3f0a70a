"""Schemas of the ``task`` and ``data`` sections for relext (no heavy imports here)."""

from __future__ import annotations

from dataclasses import dataclass, field

TRANSFORMS = ("entity_mask", "entity_marker", "entity_marker_punct", "entity_marker_punkt",
              "typed_entity_marker", "typed_entity_marker_punct", "typed_entity_marker_punkt")
POOLINGS = ("auto", "cls", "entity_start", "last_token")
FORMATS = ("auto", "litcoin", "pubtator", "bioc", "split_files")
NOVELTY = ("head", "joint", "none")  # socio_re.tasks.relext.novelty.MODES


@dataclass
class RelextEvalConfig:
    batch_size: int = 64
    # Score the test split after training when it exists (gold labels present).
    test: bool = True
    # Cap on scored instances per split (deterministic sample) for quick runs; null = all.
    max_rows: int | None = None


@dataclass
class RelextTaskConfig:
    name: str = "relext"
    transform: str = "typed_entity_marker_punct"
    # auto: entity_start with markers (all transforms but entity_mask), else cls / last_token
    pooling: str = "auto"
    max_length: int = 256
    label_smoothing: float = 0.02
    # Weight the loss by inverse class frequency of the training fold.
    class_weights: bool = False
    # Pick the checkpoint with the best validation micro-F1 (needs a validation fold).
    load_best: bool = True
    # How novelty (Novel/No) is predicted: head (a second output on the pair representation,
    # loss on gold related pairs only), joint (NOT + type x novelty classes), none (all Novel).
    novelty: str = "head"
    # Weight of the novelty loss against the type loss (novelty=head).
    novelty_loss_weight: float = 1.0
    eval: RelextEvalConfig = field(default_factory=RelextEvalConfig)


@dataclass
class LitcoinSampleSpec:
    num_train: int = 160
    num_test: int = 40
    seed: int = 0
    # sample (short abstracts) | real (the real corpus's size and lengths: data=relext-realsize)
    profile: str = "sample"
    num_dev: int | None = None


@dataclass
class RelextDataConfig:
    name: str = "relext-sample"
    # auto | litcoin | pubtator | bioc | split_files (the reference pipeline's split_k.json)
    format: str = "auto"
    path: str = "data/litcoin"
    generate_sample: LitcoinSampleSpec | None = None
    # Splits of the corpus used for cross-validation training and for the test set.
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    test_split: str | None = "test"
    num_folds: int = 5
    fold_seed: int = 42
    # sentences: the sentences mentioning either entity; abstract: the whole text
    context: str = "sentences"
    # Keep only entity-type pairs that have a relation somewhere in the training data.
    filter_type_pairs: bool = True
    # Keep at most this many NOT instances per positive one in training folds (null = all).
    negative_ratio: float | None = None
    # Keep this fraction of the training abstracts (deterministic by fold_seed).
    subset: float = 1.0


TaskConfig = RelextTaskConfig
DataConfig = RelextDataConfig


def validate(rc) -> None:
    from socio_re.errors import ConfigError

    t: RelextTaskConfig = rc.task
    d: RelextDataConfig = rc.data
    checks = [
        (not rc.trainer.packing, "trainer.packing", rc.trainer.packing, "false for task=relext",
         "each pair is classified from its own sequence; use trainer.group_by_length=true"),
        (t.transform in TRANSFORMS, "task.transform", t.transform, ", ".join(TRANSFORMS)),
        (t.pooling in POOLINGS, "task.pooling", t.pooling, ", ".join(POOLINGS)),
        (t.max_length >= 16, "task.max_length", t.max_length, "an integer >= 16"),
        (0 <= t.label_smoothing < 1, "task.label_smoothing", t.label_smoothing,
         "a number in [0, 1)"),
        (t.novelty in NOVELTY, "task.novelty", t.novelty, ", ".join(NOVELTY)),
        (t.novelty_loss_weight >= 0, "task.novelty_loss_weight", t.novelty_loss_weight,
         "a number >= 0"),
        (d.format in FORMATS, "data.format", d.format, ", ".join(FORMATS)),
        (d.generate_sample is None or d.generate_sample.profile in ("sample", "real"),
         "data.generate_sample.profile", d.generate_sample and d.generate_sample.profile,
         "sample, real"),
        (d.context in ("sentences", "abstract"), "data.context", d.context,
         "sentences, abstract"),
        (d.num_folds >= 2, "data.num_folds", d.num_folds, "an integer >= 2"),
        (d.negative_ratio is None or d.negative_ratio > 0, "data.negative_ratio",
         d.negative_ratio, "a number > 0 or null"),
        (bool(d.train_splits), "data.train_splits", d.train_splits, "a non-empty list"),
        (0 < d.subset <= 1, "data.subset", d.subset, "a number in (0, 1]"),
        (t.eval.max_rows is None or t.eval.max_rows >= 1, "task.eval.max_rows",
         t.eval.max_rows, "an integer >= 1 or null"),
    ]
    for ok, key, value, allowed, *hint in checks:
        if not ok:
            raise ConfigError(key, value, allowed, *hint)
    tr = rc.trainer
    if t.load_best and tr.eval_steps and tr.save_steps and tr.save_steps % tr.eval_steps:
        raise ConfigError("trainer.save_steps", tr.save_steps,
                          f"a multiple of trainer.eval_steps={tr.eval_steps}",
                          "task.load_best keeps an evaluated checkpoint; or set "
                          "task.load_best=false")
    fold = rc.fold
    valid_fold = fold == "all" or (isinstance(fold, int) and not isinstance(fold, bool)
                                   and 0 <= fold < d.num_folds)
    if not valid_fold:
        raise ConfigError("fold", fold, f"an integer 0..{d.num_folds - 1} or all",
                          f"data.num_folds={d.num_folds}")
    if t.pooling == "last_token" and rc.model.kind == "encoder":
        raise ConfigError("task.pooling", t.pooling, "cls, entity_start or auto for encoders",
                          f"model={rc.model.name} is an encoder")
