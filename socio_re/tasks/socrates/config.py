"""Schemas of the ``task`` and ``data`` sections for socrates (no heavy imports here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from socio_re.tasks.socrates.data.schema import SYSTEM_PROMPT


@dataclass
class SocratesEvalConfig:
    # sample (the paper's protocol: temperature 0.6, top_p 0.9, one seeded draw per row) | greedy
    # | score (every answer of the row's scale scored in batched forward passes: the whole
    # distribution; the protocol's draw is taken from it, plus its mode and expected value)
    decoding: str = "sample"
    temperature: float = 0.6
    top_p: float = 0.9
    # Generation budget of a bare integer answer (a few tokens; "$1,250" takes the most).
    max_new_tokens: int = 8
    # The budget with task.include_reasoning=true: the whole rationale plus its closing
    # "Answer: N" line. A generation cut before that line is unparseable (never the last number
    # of the rationale): keep it above the longest training target.
    reasoning_max_new_tokens: int = 512
    batch_size: int = 64
    # Which split to score after training: test | val.
    split: str = "test"
    # Cap on scored rows (deterministic sample) for quick runs; null = all rows of the split.
    max_rows: int | None = None
    seed: int = 0
    # After training, also score the untrained model (model.name_or_path) zero-shot on the same
    # rows and decoding: the base-model row of the results table (doubles evaluation time).
    compare_base: bool = True


@dataclass
class SocratesTaskConfig:
    name: str = "socrates"
    system_prompt: str = SYSTEM_PROMPT
    # Train the assistant turn as "<rationale>\nAnswer: <integer>" instead of the integer alone
    # (evaluation then generates up to eval.reasoning_max_new_tokens and reads the answer line).
    include_reasoning: bool = False
    max_length: int = 1024
    eval: SocratesEvalConfig = field(default_factory=SocratesEvalConfig)


@dataclass
class SampleSpec:
    num_studies: int = 40
    participants_per_study: int = 30
    seed: int = 0


@dataclass
class SocsciSplitConfig:
    # random | unseen_studies | unseen_conditions | unseen_tasks | unseen_participants (drawn
    # by seeded hashing of groups) | official (the paper's split, read from the dataset's
    # metadata/ folder: see ``official``)
    kind: str = "unseen_studies"
    # With kind=official: studies (metadata/participant_mapping.json, 170 seen / 40 unseen
    # studies) | tasks (metadata/task_mapping.json) | conditions (metadata/condition_mapping.json).
    # Test is the file's held-out side exactly; val is carved out of its training side.
    official: str = "studies"
    seed: int = 42
    val_fraction: float = 0.1
    # Ignored by kind=official, whose test side is fixed by the file.
    test_fraction: float = 0.2


@dataclass
class SocsciDataConfig:
    name: str = "socsci210"
    # Hub id (socratesft/SocSci210) or a local dir of parquet/jsonl files in its schema.
    path: str = "socratesft/SocSci210"
    revision: str | None = None
    # When set and ``path`` does not exist yet, generate a sample dataset there first.
    generate_sample: SampleSpec | None = None
    split: SocsciSplitConfig = field(default_factory=SocsciSplitConfig)
    # Keep this fraction of rows (deterministic by split.seed), e.g. 0.01 for a 1% run.
    subset: float = 1.0
    # Stop instead of training on garbage when more rows than this share are malformed.
    max_malformed_fraction: float = 0.01


def answer_budget(task: SocratesTaskConfig) -> int:
    """Tokens evaluation lets the model generate: the bare answer's budget, or, with the
    rationale first, the budget of rationale plus answer line (at least the bare one)."""
    e = task.eval
    if task.include_reasoning:
        return max(e.reasoning_max_new_tokens, e.max_new_tokens)
    return e.max_new_tokens


TaskConfig = SocratesTaskConfig
DataConfig = SocsciDataConfig

def validate(rc) -> None:
    """Cross-field rules of the socrates sections (rc is a validated RunConfig)."""
    from socio_re.errors import ConfigError
    from socio_re.tasks.socrates.data.splits import OFFICIAL_SPLITS, SPLIT_KINDS
    from socio_re.training.packing import PACKING_ATTENTION

    t: SocratesTaskConfig = rc.task
    d: SocsciDataConfig = rc.data
    e = t.eval
    checks = [
        (d.split.kind in SPLIT_KINDS, "data.split.kind", d.split.kind, ", ".join(SPLIT_KINDS)),
        (d.split.official in OFFICIAL_SPLITS, "data.split.official", d.split.official,
         ", ".join(OFFICIAL_SPLITS)),
        (0 <= d.split.val_fraction < 1, "data.split.val_fraction", d.split.val_fraction,
         "a number in [0, 1)"),
        (0 < d.split.test_fraction < 1, "data.split.test_fraction", d.split.test_fraction,
         "a number in (0, 1)"),
        (d.split.val_fraction + d.split.test_fraction < 1, "data.split.test_fraction",
         d.split.test_fraction, "val_fraction + test_fraction < 1"),
        (0 < d.subset <= 1, "data.subset", d.subset, "a number in (0, 1]"),
        (0 <= d.max_malformed_fraction <= 1, "data.max_malformed_fraction",
         d.max_malformed_fraction, "a number in [0, 1]"),
        (t.max_length >= 16, "task.max_length", t.max_length, "an integer >= 16"),
        (e.decoding in ("greedy", "sample", "score"), "task.eval.decoding", e.decoding,
         "greedy, sample, score"),
        (e.temperature > 0, "task.eval.temperature", e.temperature, "a number > 0"),
        (0 < e.top_p <= 1, "task.eval.top_p", e.top_p, "a number in (0, 1]"),
        (e.max_new_tokens >= 1, "task.eval.max_new_tokens", e.max_new_tokens, "an integer >= 1"),
        (e.reasoning_max_new_tokens >= 1, "task.eval.reasoning_max_new_tokens",
         e.reasoning_max_new_tokens, "an integer >= 1"),
        (e.batch_size >= 1, "task.eval.batch_size", e.batch_size, "an integer >= 1"),
        (e.split in ("test", "val"), "task.eval.split", e.split, "test, val"),
        (e.max_rows is None or e.max_rows >= 1, "task.eval.max_rows", e.max_rows,
         "an integer >= 1 or null"),
        (rc.fold is None, "fold", rc.fold, "null for task=socrates",
         "socrates uses data.split, not cross-validation folds"),
        (rc.model.kind == "decoder", "model", rc.model.name, "a decoder (causal LM) model",
         "socrates generates answers; encoders are for task=relext"),
        (not rc.trainer.packing or (rc.model.attn_implementation or "sdpa") in PACKING_ATTENTION,
         "model.attn_implementation", rc.model.attn_implementation,
         ", ".join(PACKING_ATTENTION) + " with trainer.packing=true",
         "only these keep packed examples apart; or trainer.group_by_length=true"),
    ]
    for ok, key, value, allowed, *hint in checks:
        if not ok:
            raise ConfigError(key, value, allowed, *hint)

