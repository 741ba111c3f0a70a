"""What a strategy means for this machine and for the Trainer (no heavy imports at module level).

A strategy file holds both what the launcher needs (processes, devices, backend) and what the
trainer needs (a DeepSpeed config, FSDP options, 4-bit quantization). This module turns it into
numbers and keyword arguments; ``socio_re.launch.spawn`` starts the processes.
"""

from __future__ import annotations

import os
from typing import Any

from socio_re.config.schema import RunConfig, StrategyConfig
from socio_re.errors import ConfigError

WORKER_ENV = "SOCIO_RE_WORKER"


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_num_processes(s: StrategyConfig) -> int:
    """null → one per listed device, else one per visible GPU, else 2 on a CPU-only machine
    (enough to exercise a real multi-process engine over gloo)."""
    if s.num_processes is not None:
        return s.num_processes
    if s.devices:
        return len(s.devices)
    return visible_gpus() or 2


def backend(s: StrategyConfig) -> str:
    if s.backend != "auto":
        return s.backend
    return "nccl" if visible_gpus() else "gloo"


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def skip_unused_deepspeed_ops() -> None:
    """On CPU, DeepSpeed compiles a shared-memory all-reduce op when its process group starts
    (about a minute of silence on a 2-core machine, once per extensions cache). Only
    ``inference_all_reduce`` (tensor-parallel inference) uses it, falling back to the process
    group's all_reduce without it; training never calls it, so it is not built."""
    if visible_gpus():
        return
    import deepspeed

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


def init_deepspeed(s: StrategyConfig) -> None:
    """Join DeepSpeed's process group (ZeRO-3 must see it before TrainingArguments and
    from_pretrained), without compiling ops that training never calls."""
    import logging

    import deepspeed

    log = logging.getLogger(__name__)
    skip_unused_deepspeed_ops()
    if rank() == 0:
        log.info("joining DeepSpeed's process group (%s)", backend(s))
    deepspeed.init_distributed(dist_backend=backend(s))
    zero = s.deepspeed.get("zero_optimization") or {}
    offload = (zero.get("offload_optimizer") or {}).get("device") not in (None, "none")
    torch_adam = ((s.deepspeed.get("optimizer") or {}).get("params") or {}).get("torch_adam")
    if offload and not torch_adam and rank() == 0:
        from torch.utils.cpp_extension import _get_build_directory

        log.info("DeepSpeed's CPU Adam op (optimizer offload) compiles on first use, about a "
                 "minute once per machine; cached in %s", _get_build_directory("cpu_adam", False))


def check_strategy(rc: RunConfig) -> None:
    """Combinations that cannot work, each one line with the fix."""
    s = rc.strategy
    n = s.num_processes
    if s.deepspeed and s.fsdp:
        raise ConfigError("strategy", s.name, "one engine: deepspeed or fsdp, not both",
                          "set strategy.fsdp=null or strategy.deepspeed=null")
    if s.quantization and rc.finetune.method != "lora":
        raise ConfigError("finetune.method", rc.finetune.method, "lora with quantized weights",
                          f"strategy={s.name} trains 4-bit weights through adapters only: "
                          "add finetune=lora")
    if s.devices is not None and n is not None and n != len(s.devices):
        raise ConfigError("strategy.num_processes", n, f"{len(s.devices)} (one per device) or "
                          "null", f"strategy.devices={s.devices}")
    if s.name == "single" and n not in (None, 1):
        raise ConfigError("strategy.num_processes", n, "1 with strategy=single",
                          "use strategy=ddp (or fsdp, zero2, zero3) for several processes")
    if s.deepspeed:
        stage = (s.deepspeed.get("zero_optimization") or {}).get("stage")
        if stage not in (0, 1, 2, 3):
            raise ConfigError("strategy.deepspeed.zero_optimization.stage", stage, "0, 1, 2, 3")
    if s.quantization and (s.fsdp or _zero3(s)):
        storage = s.quantization.get("bnb_4bit_quant_storage")
        if storage in (None, "uint8"):
            raise ConfigError(
                "strategy.quantization.bnb_4bit_quant_storage", storage,
                "a floating dtype (bfloat16, float16, float32) under FSDP or ZeRO-3",
                "sharding needs the 4-bit weights stored in a float tensor: "
                "strategy.quantization.bnb_4bit_quant_storage=bfloat16")
    if s.fsdp and int(s.fsdp.get("version", 2)) != 2:
        raise ConfigError("strategy.fsdp.version", s.fsdp.get("version"), "2",
                          "FSDP1 is not supported (it fails on CPU and is deprecated)")


def _zero3(s: StrategyConfig) -> bool:
    return bool(s.deepspeed) and (s.deepspeed.get("zero_optimization") or {}).get("stage") == 3


def layer_classes_to_wrap(model) -> list[str]:
    """FSDP's wrap unit derived from the model: its ``_no_split_modules`` (decoder layers)."""
    base = getattr(model, "base_model", model)  # PEFT wrapper → the wrapped model
    base = getattr(base, "model", base) if hasattr(base, "peft_config") else base
    base = getattr(base, "backbone", base)
    names = list(getattr(base, "_no_split_modules", None) or [])
    # Only the repeated blocks: wrapping the embeddings module too would nest the input
    # embedding (which accelerate shards on its own) inside another FSDP unit.
    blocks = [n for n in names if n.endswith(("Layer", "Block"))]
    names = blocks or names
    if not names:  # encoders like BERT don't declare it; wrap their layer class
        names = sorted({type(m).__name__ for m in base.modules()
                        if type(m).__name__.endswith("Layer")})
    return names


def trainer_kwargs(rc: RunConfig, num_processes: int, model=None) -> dict[str, Any]:
    """Strategy → TrainingArguments keywords (backend, DeepSpeed dict, FSDP options)."""
    s = rc.strategy
    kwargs: dict[str, Any] = {}
    if num_processes > 1 and not s.deepspeed:
        kwargs["ddp_backend"] = backend(s)
        kwargs["ddp_find_unused_parameters"] = False
    if s.deepspeed:
        kwargs["deepspeed"] = _plain(s.deepspeed)
    if s.fsdp:
        cfg = {k: v for k, v in _plain(s.fsdp).items() if v is not None}
        if not cfg.get("transformer_layer_cls_to_wrap") and model is not None:
            cfg["transformer_layer_cls_to_wrap"] = layer_classes_to_wrap(model)
        kwargs["fsdp"] = "full_shard auto_wrap" + (" offload" if cfg.get("cpu_offload") else "")
        kwargs["fsdp_config"] = cfg
    return kwargs


def _plain(obj: Any) -> Any:
    """Dataclass/OmegaConf leftovers → plain dicts and lists (DeepSpeed json-dumps its config)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def quantization_config(s: StrategyConfig):
    """bitsandbytes NF4 settings → BitsAndBytesConfig (None without quantization)."""
    if not s.quantization:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    q = dict(s.quantization)
    compute = q.get("bnb_4bit_compute_dtype") or "bfloat16"
    storage = q.get("bnb_4bit_quant_storage")
    return BitsAndBytesConfig(
        load_in_4bit=bool(q.get("load_in_4bit", True)),
        bnb_4bit_quant_type=q.get("bnb_4bit_quant_type", "nf4"),
        bnb_4bit_use_double_quant=bool(q.get("bnb_4bit_use_double_quant", True)),
        bnb_4bit_compute_dtype=getattr(torch, compute),
        bnb_4bit_quant_storage=getattr(torch, storage) if storage else torch.uint8,
    )
