"""Default run names a researcher can tell apart in the MLflow runs list and the console.

A timestamp alone (``2026-12-01_17-14-32``) says nothing about a run. The default name is built
from what a researcher varies — task, model, strategy, fine-tuning method, then the settings the
run was given on the command line (a sweep job: its own overrides, ``fold=3``,
``learning_rate=0.001``) — plus a short time suffix so that repeats of the same command stay
apart: ``relext·minilm·zero2·fold=3·1201-1714``. ``run_name=...`` replaces it.
"""

from __future__ import annotations

import time
from typing import Any

SEPARATOR = "·"
# Group choices the name already starts with, and overrides that say where or how a run is
# kept rather than what it computes (whole keys, then key roots).
NOT_IN_NAME = frozenset({"task", "model", "strategy", "finetune", "run_name", "resume"})
BOOKKEEPING_ROOTS = frozenset({"hydra", "paths", "tracking", "sweep"})
# Longer names are cut in MLflow's runs table; the settings past this are left to the tags.
MAX_SETTINGS_CHARS = 60


def short_override(item: str) -> str:
    """``trainer.learning_rate=0.001`` → ``learning_rate=0.001`` (the leaf key is enough)."""
    key, eq, value = item.lstrip("+~").partition("=")
    return f"{key.rsplit('.', 1)[-1]}{eq}{value}"


def default_run_name(rc: Any, job_overrides: list[str] | None = None,
                     now: float | None = None) -> str:
    """``task·model·strategy[·lora][·job overrides | ·fold=k]·MMDD-HHMM``."""
    parts = [rc.task.name, rc.model.name, rc.strategy.name]
    if rc.finetune.method != "full":
        parts.append(rc.finetune.method)
    # The groups named above would only repeat themselves; bookkeeping says nothing.
    varying = [short_override(o) for o in job_overrides or [] if _names_a_setting(o)]
    if rc.fold is not None and not any(v.startswith("fold=") for v in varying):
        varying.append(f"fold={rc.fold}")
    parts += _within(varying, MAX_SETTINGS_CHARS)
    parts.append(time.strftime("%m%d-%H%M", time.localtime(now)))
    return SEPARATOR.join(str(p) for p in parts)


def _names_a_setting(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    root = key.replace("/", ".").split(".", 1)[0]
    return key not in NOT_IN_NAME and root not in BOOKKEEPING_ROOTS


def _within(settings: list[str], limit: int) -> list[str]:
    """The first settings that fit in ``limit`` characters, and "…" for the rest."""
    kept, used = [], 0
    for item in settings:
        if used + len(item) > limit and kept:
            return [*kept, "…"]
        kept.append(item)
        used += len(item) + 1
    return kept
