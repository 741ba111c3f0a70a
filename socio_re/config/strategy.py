"""What a strategy means on this machine, and which strategy combinations cannot work: the
strategy's cross-field rules (part of validating a config) and the facts they need (visible
GPUs, process count, process-group backend). Torch is imported only inside the functions.
"""

from __future__ import annotations

from socio_re.config.schema import RunConfig, StrategyConfig
from socio_re.errors import ConfigError


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
    if s.quantization and (s.fsdp or is_zero3(s)):
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


def is_zero3(s: StrategyConfig) -> bool:
    return bool(s.deepspeed) and (s.deepspeed.get("zero_optimization") or {}).get("stage") == 3
