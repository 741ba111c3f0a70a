"""What really ran: the engine wrapping the model, read from the Trainer after its first step.

A strategy name says what was asked for; on CPU, accelerate would silently turn FSDP into DDP,
and a DeepSpeed config can be overridden key by key. So the run reports what it finds in place:
``<run_dir>/engine.json`` (read by the tests), one console line, MLflow tags (``engine.*``) and a
line in the final summary.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

log = logging.getLogger(__name__)

ENGINE_FILE = "engine.json"


def engine_report(trainer) -> dict[str, Any]:
    """The engine wrapping ``trainer``'s model right now (call after training has started)."""
    import torch

    wrapped = trainer.model_wrapped
    ddp = isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
    engine = ("deepspeed" if trainer.is_deepspeed_enabled else "fsdp" if trainer.is_fsdp_enabled
              else "ddp" if ddp else "single")
    report: dict[str, Any] = {
        "engine": engine,
        "distributed_type": str(trainer.accelerator.state.distributed_type).split(".")[-1],
        "world_size": trainer.args.world_size,
        "backend": _backend(),
        "precision": _precision(trainer),
        "wrapper": type(wrapped).__name__,
        "model_class": type(trainer.model).__name__,
    }
    if trainer.is_deepspeed_enabled:
        report["deepspeed_engine"] = type(wrapped).__name__
        report["zero_stage"] = int(wrapped.zero_optimization_stage())
    tensors, sharded_tensors, elements, sharded_elements = _sharding(trainer.model)
    report["fsdp_sharded_params"] = sharded_tensors
    report["params"] = tensors
    # Share of parameter elements split across ranks rather than replicated on each.
    report["sharded_param_share"] = round(sharded_elements / elements, 4) if elements else 0.0
    report["ddp"] = ddp
    report["linear4bit_layers"] = sum(
        1 for m in trainer.model.modules() if type(m).__name__ == "Linear4bit")
    return report


def _backend() -> str | None:
    import torch.distributed as dist

    return dist.get_backend() if dist.is_available() and dist.is_initialized() else None


def _precision(trainer) -> str:
    if trainer.args.bf16:
        return "bf16 mixed"
    if trainer.args.fp16:
        return "fp16 mixed"
    param = next(trainer.model.parameters(), None)
    return str(param.dtype).removeprefix("torch.") if param is not None else "unknown"


def _sharding(model) -> tuple[int, int, int, int]:
    """(parameter tensors, of them sharded, parameter elements, of them sharded). FSDP2 shards
    are DTensors whose local part is smaller than the whole; ZeRO-3 partitions every parameter
    (``ds_numel`` holds the full size while the local tensor is empty)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - old torch
        DTensor = ()
    tensors = sharded = elements = sharded_elements = 0
    for p in model.parameters():
        full = int(getattr(p, "ds_numel", 0) or p.numel())
        tensors += 1
        elements += full
        split = (isinstance(p, DTensor) and p.to_local().numel() < p.numel()) or (
            hasattr(p, "ds_numel") and p.numel() < full)
        if split:
            sharded += 1
            sharded_elements += full
    return tensors, sharded, elements, sharded_elements


def describe_engine(report: dict[str, Any]) -> str:
    """One line: "DeepSpeed ZeRO-2 · 2 processes over gloo · float32 · parameters replicated,
    gradients and optimizer states sharded"."""
    engine = report.get("engine")
    n = report.get("world_size", 1)
    name = {"deepspeed": f"DeepSpeed ZeRO-{report.get('zero_stage')}", "fsdp": "FSDP2",
            "ddp": "DDP", "single": "single process"}.get(engine, str(engine))
    parts = [name]
    if n > 1:
        hosts = report.get("hosts") or []
        parts.append(f"{n} processes" + (f" over {report['backend']}" if report.get("backend")
                                         else "")
                     + (f" on {len(hosts)} hosts ({', '.join(hosts)})" if len(hosts) > 1
                        else ""))
    parts.append(str(report.get("precision", "")))
    share = report.get("sharded_param_share", 0.0)
    if share:
        parts.append(f"{share:.0%} of parameters sharded")
    elif engine == "deepspeed" and report.get("zero_stage", 0) in (1, 2):
        what = "optimizer states" if report["zero_stage"] == 1 else \
            "gradients and optimizer states"
        parts.append(f"parameters replicated, {what} sharded")
    elif n > 1:
        parts.append("parameters replicated")
    if report.get("linear4bit_layers"):
        parts.append(f"{report['linear4bit_layers']} 4-bit layers")
    return " · ".join(p for p in parts if p)


def engine_tags(report: dict[str, Any]) -> dict[str, str]:
    """MLflow tags, so the runs table can show and filter on what really ran."""
    keys = ("engine", "zero_stage", "world_size", "backend", "precision",
            "sharded_param_share", "linear4bit_layers")
    tags = {f"engine.{k}": str(report[k]) for k in keys if report.get(k) is not None}
    tags["engine"] = describe_engine(report)
    if report.get("hosts"):
        tags["engine.hosts"] = ",".join(report["hosts"])
    return tags


def read_engine_report(run_dir: Path) -> dict[str, Any] | None:
    from socio_re.utils.files import read_json_or_none

    return read_json_or_none(Path(run_dir) / ENGINE_FILE)


class EngineReportCallback(TrainerCallback):
    """After the first optimizer step (the engine is in place): write ``engine.json``, say in
    one line what runs, and tag the tracked run."""

    def __init__(self, trainer, path: Path, tracker=None):
        self.trainer = trainer
        self.path = path
        self.tracker = tracker
        self.done = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.done:
            return
        self.done = True
        report = engine_report(self.trainer)  # every rank computes (collectives-free)
        if state.is_world_process_zero:
            from socio_re.utils.world import rank_hosts

            # Each rank recorded its host as it started (they have all met by now).
            ranks = rank_hosts(self.path.parent)
            if ranks:
                report["rank_hosts"] = {str(r): h for r, h in sorted(ranks.items())}
                report["hosts"] = sorted(set(ranks.values()))
            self.path.write_text(json.dumps(report, indent=1) + "\n")
            log.info("engine: %s", describe_engine(report))
            if self.tracker is not None:
                self.tracker.set_tags(engine_tags(report))
