"""GPU memory per device for each strategy, from the architecture alone (nothing downloaded).

The architecture comes from a table of the hub models the shipped configs name, or from a
``config.json`` (a local directory, a built tiny model, a packaged model, the local HF cache),
whose parameters are counted on an empty (meta-device) model. Everything is in bytes; the CLI
(``python -m socio_re.cli.memory``) formats it.

The accounting, per parameter that trains, under bf16 mixed precision (the ZeRO paper's "16
bytes"): 2 for the 16-bit weights, 2 for the 16-bit gradients, 12 for the optimizer (fp32 master
weights + AdamW's two fp32 moments). With ``trainer.precision=fp32``: 4 + 4 + 8. LoRA adapters
are kept in fp32 by PEFT (4 + 4 + 8) on a frozen 16-bit base. Activations: see
:func:`activation_bytes`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from socio_re.errors import UserError

GiB = 2**30  # what nvidia-smi and torch report as "GB"; an "80 GB" H100 has ~80 of these
# A GPU counts as this share of its memory: the CUDA context, NCCL buffers and allocator
# fragmentation take the rest.
USABLE_FRACTION = 0.9

BF16, FP32 = 2, 4
ADAM_MIXED = 12  # fp32 master weights + fp32 exp_avg + fp32 exp_avg_sq
ADAM_FP32 = 8  # the fp32 weights are their own master copy
# bitsandbytes NF4 with double quantization: 4 bits per weight, an 8-bit absmax per block of 64
# and an fp32 scale per 256 of those blocks (the QLoRA paper's 0.127 bits/param overhead).
NF4 = 0.5 + 1 / 64 + 4 / (64 * 256)
# Bytes per logit at the loss: bf16 logits + their fp32 upcast (transformers' ForCausalLMLoss)
# + the fp32 log-softmax cross-entropy keeps for backward.
LOGIT_BYTES = 2 + 4 + 4

STRATEGIES = ("single", "ddp", "fsdp", "fsdp_offload", "zero2", "zero3", "zero3_offload", "qlora",
              "qlora_fsdp")
# Strategies that run on one GPU (qlora under DDP needs the same per GPU).
ONE_GPU = {"single", "qlora"}
# Preference when several fit: least communication and no CPU round trips first.
PREFERENCE = ("ddp", "zero2", "fsdp", "zero3", "fsdp_offload", "zero3_offload", "qlora",
              "qlora_fsdp")


@dataclass(frozen=True)
class Arch:
    """What the estimate needs to know about a model."""

    name: str
    params: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool
    kind: str = "decoder"  # decoder (gated MLP, LM head) | encoder (BERT-like)
    # MoE experts per layer; their weights are plain tensors, not nn.Linear (gpt-oss), so
    # neither LoRA's module names nor bitsandbytes' 4-bit quantization reach them.
    experts: int = 0
    # Parameters of the biggest single module (ZeRO-3 gathers it whole); 0 = derive.
    largest_module: int = 0
    source: str = "table"
    # False when a classification head replaces the LM head (relext with a decoder).
    has_lm_head: bool = True

    @property
    def embedding(self) -> int:
        return self.vocab * self.hidden

    @property
    def lm_head(self) -> int:
        untied = self.kind == "decoder" and self.has_lm_head and not self.tied_embeddings
        return self.embedding if untied else 0

    def as_classifier(self) -> Arch:
        """The same backbone with a (negligible) classification head instead of the LM head."""
        return replace(self, params=self.params - self.lm_head, has_lm_head=False)

    @property
    def per_layer(self) -> int:
        return (self.params - self.embedding - self.lm_head) // self.layers

    @property
    def mlp_linear(self) -> int:
        """Dense MLP weights of one layer (0 for MoE: the experts are not linear modules)."""
        if self.experts:
            return 0
        return (3 if self.kind == "decoder" else 2) * self.hidden * self.intermediate

    @property
    def attention_linear(self) -> int:
        q_out, kv_out = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return 2 * self.hidden * q_out + 2 * self.hidden * kv_out

    @property
    def quantizable(self) -> int:
        """Weights bitsandbytes turns into 4-bit: the linear layers of the blocks (not the
        embeddings, the LM head, norms or MoE expert tensors)."""
        return self.layers * (self.attention_linear + self.mlp_linear)

    @property
    def largest(self) -> int:
        if self.largest_module:
            return self.largest_module
        experts = self.experts * 3 * self.hidden * self.intermediate
        return max(self.embedding, self.hidden * self.intermediate, experts)


def _decoder(name: str, params: float, h: int, layers: int, heads: int, kv: int, inter: int,
             vocab: int, tied: bool, head_dim: int = 0, experts: int = 0) -> Arch:
    return Arch(name, int(params), h, layers, heads, kv, head_dim or h // heads, inter, vocab,
                tied, "decoder", experts)


def _encoder(name: str, params: float, h: int, layers: int, heads: int, inter: int,
             vocab: int) -> Arch:
    return Arch(name, int(params), h, layers, heads, heads, h // heads, inter, vocab, True,
                "encoder")


# Published architectures of the hub models conf/model/*.yaml names (their config.json files).
KNOWN: dict[str, Arch] = {a.name: a for a in (
    _decoder("Qwen/Qwen2.5-14B-Instruct", 14.77e9, 5120, 48, 40, 8, 13824, 152064, False),
    _decoder("Qwen/Qwen2.5-0.5B-Instruct", 0.494e9, 896, 24, 14, 2, 4864, 151936, True),
    _decoder("meta-llama/Llama-3.1-8B-Instruct", 8.03e9, 4096, 32, 32, 8, 14336, 128256, False),
    # 21B total, 3.6B active: all 32 experts of every layer are in memory.
    _decoder("openai/gpt-oss-20b", 20.91e9, 2880, 24, 64, 8, 2880, 201088, False,
             head_dim=64, experts=32),
    _encoder("FacebookAI/roberta-large", 355e6, 1024, 24, 16, 4096, 50265),
    _encoder("microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext", 110e6, 768, 12,
             12, 3072, 30522),
    _encoder("sentence-transformers/all-MiniLM-L6-v2", 22.7e6, 384, 6, 12, 1536, 30522),
)}


# --- architectures from config.json ------------------------------------------------------


def arch_from_config_dir(path: str | Path, kind: str, name: str | None = None) -> Arch:
    """Read ``config.json`` and count parameters on an empty model (no weights are loaded)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    params, largest = _count_on_meta(config, kind)
    heads = config.num_attention_heads
    return Arch(
        name=name or str(path), params=params, hidden=config.hidden_size,
        layers=config.num_hidden_layers, heads=heads,
        kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
        intermediate=config.intermediate_size, vocab=config.vocab_size,
        tied_embeddings=bool(getattr(config, "tie_word_embeddings", True)), kind=kind,
        experts=getattr(config, "num_local_experts", None) or 0,
        largest_module=largest, source="config.json")


def _count_on_meta(config: Any, kind: str) -> tuple[int, int]:
    """(parameters, parameters of the biggest module) of the model ``config`` describes."""
    from accelerate import init_empty_weights
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModelForCausalLM if kind == "decoder" else AutoModel
    with init_empty_weights():
        model = auto.from_config(config)
    # Under init_empty_weights the LM head comes out untied from the embeddings; tie it again,
    # then parameters() yields the shared weight once.
    model.tie_weights()
    total = sum(p.numel() for p in model.parameters())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return total, largest


# --- LoRA --------------------------------------------------------------------------------


def lora_shapes(arch: Arch) -> dict[str, list[tuple[int, int]]]:
    """(in, out) of every linear module of one layer, by the name LoRA targets it with."""
    h, inter = arch.hidden, arch.intermediate
    if arch.kind == "encoder":
        # BERT: "dense" is the attention output, the intermediate and the output projection.
        return {"query": [(h, h)], "key": [(h, h)], "value": [(h, h)],
                "dense": [(h, h), (h, inter), (inter, h)]}
    q_out, kv_out = arch.heads * arch.head_dim, arch.kv_heads * arch.head_dim
    shapes = {"q_proj": [(h, q_out)], "k_proj": [(h, kv_out)], "v_proj": [(h, kv_out)],
              "o_proj": [(q_out, h)]}
    if not arch.experts:
        shapes |= {"gate_proj": [(h, inter)], "up_proj": [(h, inter)], "down_proj": [(inter, h)]}
    return shapes


def lora_params(arch: Arch, targets: str | Sequence[str], rank: int) -> tuple[int, list[str]]:
    """Adapter parameters: r × (in + out) per targeted module, all layers; and the target names
    that match no module of this architecture (they add nothing)."""
    shapes = lora_shapes(arch)
    names = list(shapes) if targets == "all-linear" else [str(t) for t in targets]
    unmatched = [n for n in names if n.rsplit(".", 1)[-1] not in shapes]
    per_layer = sum(rank * (i + o) for n in names for i, o in shapes.get(n.rsplit(".", 1)[-1], []))
    return per_layer * arch.layers, unmatched


# --- activations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    seq: int
    batch: int  # per device
    lm_logits: bool  # causal-LM loss over the vocabulary (socrates), not a small classifier head
    eager_attention: bool  # attention scores materialised (eager), not fused (sdpa/flash)
    fp32: bool = False


def activation_bytes(arch: Arch, w: Workload, checkpointing: bool) -> int:
    """Activations kept for backward on one device.

    Per layer, 16-bit, no recomputation (Korthikanti et al. 2022, "Reducing Activation
    Recomputation in Large Transformer Models", eq. 1 without tensor parallelism):
        s·b·h·34 + 5·a·s²·b
    where the 5·a·s²·b term (attention scores, softmax, dropout mask) exists only when the
    attention is materialised (eager); sdpa/flash kernels keep none of it.
    With gradient checkpointing every layer keeps only its 16-bit input (2·s·b·h) and one layer
    at a time is recomputed in full during backward.
    Plus, for a causal-LM loss, the logits: s·b·V·10 bytes (see LOGIT_BYTES).
    Activations are not sharded by FSDP or ZeRO: the same on every device.
    """
    s, b, h = w.seq, w.batch, arch.hidden
    scale = 2 if w.fp32 else 1
    one_layer = s * b * h * 34 + (5 * arch.heads * s * s * b if w.eager_attention else 0)
    # Checkpointed: each layer's 16-bit input, plus the one layer being recomputed.
    stored = arch.layers * 2 * s * b * h + one_layer if checkpointing else arch.layers * one_layer
    logits = s * b * arch.vocab * LOGIT_BYTES if w.lm_logits else 0
    return scale * stored + logits


# --- per-strategy estimate ---------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    """What trains: the full model, or LoRA adapters on a frozen base."""

    method: str  # full | lora
    trainable: int
    frozen: int
    fp32: bool = False
    notes: tuple[str, ...] = ()

    def bytes_per_trainable(self) -> tuple[int, int, int]:
        """(weights, gradients, optimizer) bytes per trainable parameter."""
        if self.method == "lora" or self.fp32:
            return FP32, FP32, ADAM_FP32
        return BF16, BF16, ADAM_MIXED

    @property
    def frozen_bytes(self) -> int:
        return FP32 if self.fp32 else BF16


@dataclass
class Estimate:
    strategy: str
    devices: int
    method: str
    weights: float
    grads: float
    optimizer: float
    activations: float
    activations_ckpt: float
    cpu: float = 0.0  # offloaded to CPU memory, per node
    deepspeed_gpu: float | None = None
    deepspeed_cpu: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations

    @property
    def total_ckpt(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations_ckpt


def training_for(arch: Arch, method: str, lora_rank: int, targets: str | Sequence[str],
                 fp32: bool = False) -> Training:
    if method == "full":
        return Training("full", arch.params, 0, fp32)
    adapters, unmatched = lora_params(arch, targets, lora_rank)
    notes = (f"LoRA targets {', '.join(unmatched)} match no module of this architecture",) \
        if unmatched else ()
    return Training("lora", adapters, arch.params, fp32, notes)


def _gathered(arch: Arch, t: Training) -> float:
    """What a sharded engine holds unsharded at a time: two layers (the current one and the
    prefetched next) plus the embedding and output matrices, in the 16-bit compute dtype."""
    return t.frozen_bytes * (2 * arch.per_layer + arch.embedding + arch.lm_head)


def _states(strategy: str, arch: Arch, t: Training, n: int) -> tuple[float, float, float, float]:
    """(weights, gradients, optimizer, CPU-offloaded) bytes per device for one strategy."""
    wb, gb, ob = t.bytes_per_trainable()
    weights = t.frozen * t.frozen_bytes + t.trainable * wb
    grads, optim = t.trainable * gb, t.trainable * ob
    if strategy in ("single", "ddp"):
        return weights, grads, optim, 0.0
    if strategy == "zero2":  # optimizer states and gradients sharded, weights replicated
        return weights, grads / n, optim / n, 0.0
    if strategy in ("fsdp", "zero3"):  # everything sharded, layers gathered on use
        # On one GPU nothing is sharded, so nothing is gathered either.
        gathered = _gathered(arch, t) if n > 1 else 0.0
        return weights / n + gathered, grads / n, optim / n, 0.0
    if strategy in ("fsdp_offload", "zero3_offload"):  # states in CPU memory, layers stream in
        return _gathered(arch, t), 0.0, 0.0, weights + grads + optim
    raise ValueError(strategy)


def _qlora(arch: Arch, t: Training) -> tuple[float, float, float]:
    """4-bit base + fp32 adapters. prepare_model_for_kbit_training (socio_re.models.load) casts
    every weight that is not 4-bit (embeddings, LM head, norms, MoE experts) to fp32."""
    frozen = arch.quantizable * NF4 + (arch.params - arch.quantizable) * FP32
    return frozen + t.trainable * FP32, t.trainable * FP32, t.trainable * ADAM_FP32


DeepSpeedEstimators = tuple[Callable[..., Any], Callable[..., Any]]


def deepspeed_estimators() -> DeepSpeedEstimators | str:
    """DeepSpeed's own model-state estimators, or why they are unavailable."""
    previous = logging.root.manager.disable
    # Its accelerator probe logs a warning on machines without a GPU; the estimators are pure.
    logging.disable(logging.WARNING)
    try:
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
    except Exception as exc:  # optional extra: any failure only drops a comparison column
        return f"deepspeed unavailable ({type(exc).__name__}: {exc})"
    finally:
        logging.disable(previous)
    return estimate_zero2_model_states_mem_needs, estimate_zero3_model_states_mem_needs


def _deepspeed_figures(strategy: str, arch: Arch, n: int,
                       ds: DeepSpeedEstimators) -> tuple[float, float] | None:
    """(gpu, cpu) bytes DeepSpeed estimates for the model states of a full fine-tune."""
    zero2, zero3 = ds
    if strategy == "zero2":
        cpu, gpu = zero2(arch.params, num_gpus_per_node=n, num_nodes=1, cpu_offload=False)
    elif strategy in ("zero3", "zero3_offload"):
        offload = strategy == "zero3_offload"
        cpu, gpu, _ = zero3(arch.params, arch.largest, num_gpus_per_node=n, num_nodes=1,
                            cpu_offload=offload, cpu_offload_params=offload, zero_init=True)
    else:
        return None
    return float(gpu), float(cpu)


def estimate(arch: Arch, training: Training, workload: Workload, gpus: int,
             ds: DeepSpeedEstimators | str | None = None,
             adapters: Training | None = None) -> list[Estimate]:
    """One estimate per strategy in STRATEGIES. qlora always trains LoRA adapters: ``adapters``
    (the LoRA the finetune config would use) when ``training`` is a full fine-tune."""
    act = activation_bytes(arch, workload, checkpointing=False)
    act_ckpt = activation_bytes(arch, workload, checkpointing=True)
    rows = []
    for strategy in STRATEGIES:
        n = 1 if strategy in ONE_GPU else gpus
        t = training
        if strategy.startswith("qlora"):
            t = training if training.method == "lora" else adapters
            if t is None:
                raise ValueError("qlora needs the adapters when training is a full fine-tune")
            # qlora_fsdp shards the 4-bit base and the adapters' states over the GPUs.
            weights, grads, optim = (x / n for x in _qlora(arch, t))
            cpu = 0.0
        else:
            weights, grads, optim, cpu = _states(strategy, arch, t, n)
        row = Estimate(strategy, n, t.method, weights, grads, optim, act, act_ckpt, cpu)
        if isinstance(ds, tuple) and t.method == "full":
            figures = _deepspeed_figures(strategy, arch, n, ds)
            if figures:
                row.deepspeed_gpu, row.deepspeed_cpu = figures
        rows.append(row)
    return rows


# --- verdicts ----------------------------------------------------------------------------


def fits(row: Estimate, gpu_gb: float, checkpointing: bool) -> tuple[bool, bool]:
    """(fits as configured, fits with gradient checkpointing)."""
    usable = gpu_gb * GiB * USABLE_FRACTION
    as_configured = (row.total_ckpt if checkpointing else row.total) <= usable
    return as_configured, row.total_ckpt <= usable


def format_gb(n_bytes: float, unit: bool = False) -> str:
    """GB with one decimal; MB below 0.05 GB, so tiny models do not read as zero."""
    if 0 < n_bytes < 0.05 * GiB:
        return f"{n_bytes / 2**20:,.1f} MB"
    return f"{n_bytes / GiB:,.1f}" + (" GB" if unit else "")


def verdict(row: Estimate, gpu_gb: float, checkpointing: bool) -> str:
    """yes | with ckpt (only with gradient checkpointing) | no: needs N GB; + offloaded RAM."""
    plain, with_ckpt = fits(row, gpu_gb, checkpointing)
    cpu = f" + {format_gb(row.cpu, unit=True)} CPU RAM" if row.cpu else ""
    if plain:
        return "yes" + cpu
    if with_ckpt:
        return "with ckpt" + cpu
    return f"no: needs {math.ceil(row.total_ckpt / GiB / USABLE_FRACTION)} GB"


def recommend(rows: list[Estimate], gpu_gb: float, gpus: int, checkpointing: bool,
              method: str) -> str:
    """One line: the preferred strategy that fits (without extra checkpointing if possible)."""
    several = ("ddp", "zero2", "fsdp", "zero3", "qlora_fsdp")  # need more than one GPU
    order = [s for s in PREFERENCE if gpus > 1 or s not in several]
    if gpus == 1:
        order.insert(0, "single")
    by_name = {r.strategy: r for r in rows}
    for need_ckpt in (False, True):
        for name in order:
            row = by_name[name]
            plain, with_ckpt = fits(row, gpu_gb, checkpointing)
            if (plain if not need_ckpt else with_ckpt):
                extra = " trainer.gradient_checkpointing=true" \
                    if need_ckpt and not checkpointing else ""
                lora = " finetune=lora" if row.method == "lora" and method == "full" else ""
                peak = row.total_ckpt if (need_ckpt or checkpointing) else row.total
                return (f"recommendation: strategy={name}{lora}{extra} "
                        f"(~{peak / GiB:,.1f} GB per GPU on {row.devices} × {gpu_gb:g} GB)")
    return (f"recommendation: nothing fits on {gpus} × {gpu_gb:g} GB; try finetune=lora, "
            "strategy=qlora, a smaller --batch or --seq, or more GPUs")


def strategy_row_name(strategy: Any) -> str:
    """Which estimate a strategy config corresponds to, by what it configures (so custom
    strategy files are placed too)."""
    def get(node: Any, *keys: str) -> Any:
        for key in keys:
            node = node.get(key) if hasattr(node, "get") else None
        return node

    if get(strategy, "quantization", "load_in_4bit"):
        return "qlora_fsdp" if get(strategy, "fsdp") else "qlora"
    stage = get(strategy, "deepspeed", "zero_optimization", "stage")
    if stage is not None:
        offload = get(strategy, "deepspeed", "zero_optimization", "offload_param") or \
            get(strategy, "deepspeed", "zero_optimization", "offload_optimizer")
        if int(stage) == 3:
            return "zero3_offload" if offload else "zero3"
        return "zero2"
    if get(strategy, "fsdp"):
        return "fsdp_offload" if get(strategy, "fsdp", "cpu_offload") else "fsdp"
    name = get(strategy, "name")
    if name in STRATEGIES:
        return name
    return "single" if get(strategy, "num_processes") == 1 else "ddp"


def arch_unknown(name_or_path: str) -> UserError:
    return UserError(
        f"no architecture known for {name_or_path!r}: not a local directory with config.json, "
        f"not in the hub cache, not one of {', '.join(sorted(KNOWN))}; pass "
        "model.name_or_path=<dir with config.json>")
