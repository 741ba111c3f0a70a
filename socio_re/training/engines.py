"""A strategy's engine settings for the Trainer: TrainingArguments keywords (DeepSpeed dict,
FSDP options, DDP backend), the FSDP wrap unit, the bitsandbytes config, and DeepSpeed's CPU
op setup, used through :class:`socio_re.training.engine.Engine`. No heavy imports at module
level.
"""

from __future__ import annotations

from typing import Any

from socio_re.config.schema import StrategyConfig
from socio_re.config.strategy import backend, visible_gpus


def skip_unused_deepspeed_ops() -> None:
    """On CPU, DeepSpeed compiles a shared-memory all-reduce op when its process group starts
    (about a minute of silence on a 2-core machine, once per extensions cache). Only
    ``inference_all_reduce`` (tensor-parallel inference) uses it, falling back to the process
    group's all_reduce without it; training never calls it, so it is not built."""
    if visible_gpus():
        return
    import deepspeed

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


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


def trainer_kwargs(s: StrategyConfig, num_processes: int, model=None) -> dict[str, Any]:
    """Strategy → TrainingArguments keywords (backend, DeepSpeed dict, FSDP options)."""
    kwargs: dict[str, Any] = {"ddp_timeout": collective_timeout_s(s)}
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


def collective_timeout_s(s: StrategyConfig) -> int:
    """``strategy.timeout_min`` in seconds: how long a collective waits for a rank that may have
    died (torch's default is 30 min, during which a job that lost a node would sit idle)."""
    return max(1, round(float(getattr(s, "timeout_min", 30.0)) * 60))


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
