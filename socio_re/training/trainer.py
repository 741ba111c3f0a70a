"""The HF Trainer with two additions: real FSDP2 on CPU, and a report of the engine that ran.

On a CPU machine accelerate's state is MULTI_CPU, and it only turns FSDP on for GPU-like
distributed types, so a run that asked for FSDP silently becomes plain DDP. After the accelerator
is created we install the FSDP plugin ourselves and mark the state as FSDP; accelerate's FSDP2
path (``fully_shard``) then works over gloo. The engine report (``<run_dir>/engine.json``) lets a
user — and the tests — check that the engine asked for is the one that ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback


class SocioTrainer(Trainer):
    def create_accelerator_and_postprocess(self):
        super().create_accelerator_and_postprocess()
        from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

        state = self.accelerator.state
        if self.args.fsdp_plugin_args and state.distributed_type == DistributedType.MULTI_CPU:
            state.fsdp_plugin = FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)
            state.distributed_type = DistributedType.FSDP
            self.is_fsdp_enabled = True

    def engine_report(self) -> dict[str, Any]:
        """What is actually wrapping the model right now (call after training has started)."""
        import torch

        wrapped = self.model_wrapped
        engine = ("deepspeed" if self.is_deepspeed_enabled else "fsdp" if self.is_fsdp_enabled
                  else "ddp" if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
                  else "single")
        report: dict[str, Any] = {
            "engine": engine,
            "distributed_type": str(self.accelerator.state.distributed_type).split(".")[-1],
            "world_size": self.args.world_size,
            "wrapper": type(wrapped).__name__,
            "model_class": type(self.model).__name__,
        }
        if self.is_deepspeed_enabled:
            engine = self.model_wrapped
            report["deepspeed_engine"] = type(engine).__name__
            report["zero_stage"] = int(engine.zero_optimization_stage())
        sharded = total = 0
        try:
            from torch.distributed.tensor import DTensor
        except ImportError:  # pragma: no cover - old torch
            DTensor = ()
        for p in self.model.parameters():
            total += 1
            if isinstance(p, DTensor) and p.to_local().numel() < p.numel():
                sharded += 1
        report["fsdp_sharded_params"] = sharded
        report["params"] = total
        report["ddp"] = isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
        report["linear4bit_layers"] = sum(
            1 for m in self.model.modules() if type(m).__name__ == "Linear4bit")
        return report


class EngineReportCallback(TrainerCallback):
    """Write ``engine.json`` once the first optimizer step has run (the engine is in place)."""

    def __init__(self, trainer: SocioTrainer, path: Path):
        self.trainer = trainer
        self.path = path
        self.done = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.done:
            return
        self.done = True
        report = self.trainer.engine_report()  # every rank computes (collectives-free)
        if state.is_world_process_zero:
            self.path.write_text(json.dumps(report, indent=1) + "\n")
