"""Directory names derived from overrides, so the same sweep command finds its own earlier work.

A timestamped sweep directory (Hydra's default) makes every re-run start from nothing; naming
the sweep after its overrides and each job after its own overrides lets a re-run see which jobs
finished (done marker), which were interrupted (checkpoints) and which failed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_NAME = 120
# Overrides that say how to run a sweep, not what it computes: not part of its identity.
_NOT_IDENTITY = ("hydra.", "hydra/", "sweep.")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+\-]+")


def _identity(overrides: Iterable[str]) -> list[str]:
    return sorted(o for o in map(str, overrides) if not o.lstrip("+~").startswith(_NOT_IDENTITY))


def safe_name(text: str, max_len: int = MAX_NAME) -> str:
    """A filesystem-safe name; long ones keep a readable head and a hash of the whole."""
    name = _UNSAFE.sub("_", text).strip("_.") or "default"
    if len(name) > max_len:
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        name = f"{name[: max_len - 11]}-{digest}"
    return name


def sweep_name(name: str | None, overrides: Iterable[str]) -> str:
    """``sweep.name`` when given, else the sorted sweep overrides (``fold=0,1,2,3,4``)."""
    if name:
        return safe_name(str(name))
    return safe_name(" ".join(_identity(overrides)).replace(" ", "__"))


def job_dir_name(overrides: Iterable[str]) -> str:
    """One job's directory: its own overrides, sorted (``fold=3``,
    ``trainer.learning_rate=1e-05__trainer.per_device_train_batch_size=8``)."""
    return safe_name("__".join(_identity(overrides)))


def register_resolvers() -> None:
    """``${socio_re_sweep_name:${sweep.name},${hydra.overrides.task}}`` in conf/train.yaml."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("socio_re_sweep_name"):
        OmegaConf.register_new_resolver(
            "socio_re_sweep_name", lambda name, overrides: sweep_name(name, overrides or []))
