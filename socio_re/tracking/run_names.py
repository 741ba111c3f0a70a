"""Default run names a researcher can tell apart in the MLflow runs list and the console.

A timestamp alone (``2026-12-01_17-14-32``) says nothing about a run. The default name is built
from what a researcher varies — task, model, strategy, fine-tuning method, then the sweep job's
own overrides (``fold=3``, ``learning_rate=0.001``) or the fold — plus a short time suffix so that
repeats of the same command stay apart: ``relext·minilm·zero2·fold=3·1201-1714``.
``run_name=...`` replaces it.
"""

from __future__ import annotations

import time
from typing import Any

SEPARATOR = "·"


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
    varying = [short_override(o) for o in job_overrides or []]
    # The overrides already named by the parts above would only repeat them.
    varying = [v for v in varying if v.partition("=")[0] not in
               ("task", "model", "strategy", "finetune")]
    if rc.fold is not None and not any(v.startswith("fold=") for v in varying):
        varying.append(f"fold={rc.fold}")
    parts += varying
    parts.append(time.strftime("%m%d-%H%M", time.localtime(now)))
    return SEPARATOR.join(str(p) for p in parts)
