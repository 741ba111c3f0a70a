"""Keep the best evaluated weights of a sharded (FSDP2) run and put them back at the end.

The Trainer's ``load_best_model_at_end`` reloads the best sharded checkpoint by path, but under
FSDP2 on CPU its ranks disagree on which checkpoint is best (rotation then deletes the one a rank
asks for). This keeper decides on the metric every rank computes identically, gathers the full
state dict when it improves (a collective: every rank joins), and rank 0 stores it next to the
checkpoints, so a resumed run keeps its best. At the end the best weights are broadcast back
into the sharded model before export and scoring.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from transformers import TrainerCallback

log = logging.getLogger(__name__)

STATE_FILE = "best_weights.pt"
INFO_FILE = "best_weights.json"


class BestWeightsCallback(TrainerCallback):
    def __init__(self, directory: Path, metric: str, greater_is_better: bool = True):
        self.directory = Path(directory)
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.greater = greater_is_better
        info = self.directory / INFO_FILE
        saved = json.loads(info.read_text()) if info.is_file() else {}
        self.best: float | None = saved.get("metric")
        self.best_step: int | None = saved.get("step")

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.greater else value < self.best

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:  # a fresh start: a stored best belongs to an earlier run
            self.best = self.best_step = None

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        value = (metrics or {}).get(self.metric)
        if value is None or not self._improves(float(value)):
            return
        import torch
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                     cpu_offload=True))
        self.best, self.best_step = float(value), int(state.global_step)
        if state.is_world_process_zero:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{STATE_FILE}.tmp"
            torch.save(full, tmp)
            tmp.replace(self.directory / STATE_FILE)
            (self.directory / INFO_FILE).write_text(json.dumps(
                {"metric": self.best, "step": self.best_step, "name": self.metric}) + "\n")

    def restore(self, model) -> int | None:
        """Broadcast rank 0's stored best into the (sharded) model; every rank must call it.
        Returns the step the weights come from, or None when nothing was kept."""
        import torch
        import torch.distributed as dist
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        if self.best_step is None:
            return None
        path = self.directory / STATE_FILE
        rank0 = not dist.is_initialized() or dist.get_rank() == 0
        state = torch.load(path, map_location="cpu", weights_only=True) if rank0 else {}
        set_model_state_dict(model, state, options=StateDictOptions(
            full_state_dict=True, broadcast_from_rank0=True))
        log.info("restored the best weights (%s %.4f at step %d)", self.metric, self.best,
                 self.best_step)
        return self.best_step
