"""Which hyperparameters a comparison shows: the ones the user set that differ between runs.

A run's params are its whole flattened config, so two runs on different strategies differ in
dozens of derived keys (every ``strategy.deepspeed.*`` field) that nobody chose. What the user
chose is in the run's ``overrides`` tag: its Hydra command-line overrides, space-joined. The
default table shows those override keys whose values differ between the listed runs; runs
logged before the tag existed fall back to the differing params minus engine internals. The
CSV and ``--wide`` keep every differing param.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import Run

OVERRIDES_TAG = "overrides"

# Params and overrides that differ between runs without being a choice worth comparing: where
# things were written, how they were tracked, and the sweep/Hydra bookkeeping (``paths.*``,
# ``tracking=none``, ``hydra/launcher=slurm``, ...). Left out everywhere.
NOISE_ROOTS = frozenset({"paths", "tracking", "hydra", "sweep", "tags"})
NOISE_KEYS = frozenset({"run_name"})

# Params derived from a choice rather than chosen: a strategy's engine config (DeepSpeed, FSDP,
# quantization) follows from ``strategy=...``, so listing its fields repeats that one choice
# dozens of times. Left out of the default table when it falls back to params.
INTERNAL_PREFIXES = ("strategy.deepspeed.", "strategy.fsdp.", "strategy.quantization.")
INTERNAL_KEYS = frozenset(p.rstrip(".") for p in INTERNAL_PREFIXES)  # the null section itself
# A dict or list param longer than this is a config blob (target modules, kwargs), not a value
# one reads in a table cell.
LONG_STRUCTURE_CHARS = 40

DELETED = "(deleted)"  # the value of a ``~key`` override
CELL_CHARS = 24  # default table: longer values are shortened in the middle
NAME_CHARS = 40  # default table: longer run and sweep names are shortened in the middle
OVERRIDES_CHARS = 60  # default sweeps table: a sweep's overrides (what the user set) get more

# Where a new override starts in the space-joined tag: ``key=``, ``+key=``, ``++key=`` or a
# ``~key`` deletion. Anything else continues the previous override's value, which Hydra allows
# to hold spaces (``tags=[a, b]``, ``x='a b'``).
_OVERRIDE_START = re.compile(r"^(?:\+{1,2})?[A-Za-z_][\w.@/-]*=|^~[A-Za-z_][\w.@/-]*(?:=|$)")


def is_noise_param(key: str) -> bool:
    """Params left out of every comparison: output locations and tracking/sweep bookkeeping."""
    root = re.split(r"[./]", key, maxsplit=1)[0]
    return root in NOISE_ROOTS or key in NOISE_KEYS or key.endswith("dir")


def is_internal_param(key: str) -> bool:
    """Noise, or a field of the strategy's engine config (derived from the strategy)."""
    return is_noise_param(key) or key in INTERNAL_KEYS or key.startswith(INTERNAL_PREFIXES)


def is_long_structure(value: str | None) -> bool:
    return value is not None and value.startswith(("[", "{")) and \
        len(value) > LONG_STRUCTURE_CHARS


def differing_params(params: Sequence[Mapping[str, str]]) -> list[str]:
    """Keys (sorted) whose values are not all equal across ``params``; a key missing from some
    runs counts as differing. Noise keys are left out."""
    keys = sorted({k for p in params for k in p if not is_noise_param(k)})
    return [k for k in keys if len({p.get(k) for p in params}) > 1]


def readable_differing_params(params: Sequence[Mapping[str, str]]) -> list[str]:
    """The differing params minus engine internals and config blobs: the fallback for runs that
    do not say what the user set."""
    return [k for k in differing_params(params) if not is_internal_param(k)
            and not any(is_long_structure(p.get(k)) for p in params)]


def parse_overrides(text: str) -> dict[str, str]:
    """``{"strategy": "zero2", "trainer.learning_rate": "0.001"}`` from
    ``"strategy=zero2 ++trainer.learning_rate=0.001"``: the leading ``+``/``++`` says how Hydra
    adds a key, not which key, so it is dropped; ``~key`` deletes it."""
    items: list[str] = []
    for token in text.split():
        if _OVERRIDE_START.match(token) or not items:
            items.append(token)
        else:
            items[-1] += " " + token
    out = {}
    for item in items:
        if item.startswith("~"):
            out[item[1:].split("=", 1)[0]] = DELETED
        elif "=" in item:
            key, value = item.lstrip("+").split("=", 1)
            out[key] = value
    return out


def run_overrides(run: Run) -> dict[str, str] | None:
    """The run's parsed overrides; None for a run logged without the tag."""
    text = run.data.tags.get(OVERRIDES_TAG)
    return None if text is None else parse_overrides(text)


def setting(run: Run, key: str, overrides: Mapping[str, str] | None = None) -> str:
    """What the run used for ``key``: the logged param (resolved, so ``1e-3`` and ``0.001``
    compare equal); for a config group (``strategy``), which has no param of its own, the
    chosen option from the overrides, else the run's tag of that name (the tracker tags the
    task, model, strategy, finetune and data choices), else the group's ``name`` field."""
    params, tags = run.data.params, run.data.tags
    if key in params:
        return params[key]
    if overrides is None:
        overrides = run_overrides(run) or {}
    if key in overrides:
        return overrides[key]
    if key in tags:
        return tags[key]
    return params.get(f"{key}.name", "")


@dataclass
class ParamColumns:
    """``shown``: the default table's params; ``wide``: every differing one (CSV, ``--wide``)."""

    shown: list[str]
    wide: list[str]


def param_columns(runs: Sequence[Run]) -> ParamColumns:
    """The override keys whose settings differ between the runs, plus, when some run has no
    overrides tag (logged before it existed, or started without overrides), the readable
    differing params; every differing param and those override keys for the wide view."""
    overrides = [run_overrides(r) for r in runs]
    user_keys = sorted({k for o in overrides if o for k in o if not is_noise_param(k)})
    shown = {k for k in user_keys
             if len({setting(r, k, o) for r, o in zip(runs, overrides, strict=True)}) > 1}
    params = [r.data.params for r in runs]
    if any(o is None for o in overrides):
        # A config group shown as a choice (``strategy``) already explains its fields
        # (``strategy.name``, ``strategy.num_processes``), which differ along with it.
        chosen_groups = tuple(f"{k}." for k in shown)
        shown |= {k for k in readable_differing_params(params) if not k.startswith(chosen_groups)}
    return ParamColumns(sorted(shown), sorted(shown | set(differing_params(params))))


def shorten(text: str, width: int = CELL_CHARS) -> str:
    """``text`` cut in the middle to ``width`` characters: both ends tell values apart (model
    paths by their end, override lists by their start)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def shorten_column(values: Sequence[str], width: int = CELL_CHARS) -> list[str]:
    """A column's values shortened, unless that would make different values look alike (run
    names that share a long prefix and suffix): then twice as wide, else in full."""
    for w in (width, 2 * width):
        short = [shorten(v, w) for v in values]
        if len(set(short)) == len(set(values)):
            return short
    return list(values)
