"""Find the checkpoint to resume from."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from socio_re.errors import ConfigError

log = logging.getLogger(__name__)

_CKPT = re.compile(r"^checkpoint-(\d+)$")


def is_complete_checkpoint(path: Path) -> bool:
    """Trainer writes trainer_state.json after the weights; both present means complete.
    Weights: safetensors (single, DDP, LoRA, gathered ZeRO-3), FSDP's sharded model directory,
    or DeepSpeed's global_step* shards."""
    if not (path / "trainer_state.json").exists():
        return False
    return any(path.glob("*.safetensors")) or any(path.glob("pytorch_model_fsdp_*")) or any(
        path.glob("global_step*"))


def newest_complete_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest ``checkpoint-N`` whose save finished (:func:`is_complete_checkpoint`).

    Not ``transformers.trainer_utils.get_last_checkpoint``: that returns the highest
    ``checkpoint-N`` folder whether or not its save finished, so a run killed while saving
    (preemption mid-write) would resume from a folder without weights and fail; here the
    incomplete one is skipped with a warning (tests/test_checkpoints_resume.py)."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for p in checkpoint_dir.iterdir():
        m = _CKPT.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    for _, p in sorted(found, reverse=True):
        if is_complete_checkpoint(p):
            return p
        log.warning("skipping incomplete checkpoint %s", p)
    return None


def resolve_resume(resume: str, checkpoint_dir: Path) -> Path | None:
    """``auto``: newest complete checkpoint or none; ``never``: none; else that directory."""
    if resume in ("never", "false", "False", "no"):
        return None
    if resume == "auto":
        return newest_complete_checkpoint(checkpoint_dir)
    path = Path(resume).expanduser()
    if not is_complete_checkpoint(path):
        raise ConfigError("resume", resume, "auto, never, or a complete checkpoint directory",
                          "no trainer_state.json and weights there")
    return path
