"""Dataclass schemas for every config group.

Hydra composes plain YAML; :func:`socio_re.config.validate.validate_config` merges the result
into these dataclasses, so an unknown key or a value of the wrong type is an error that names the
key. Task-specific sections (``task`` and ``data``) have one schema per task, chosen by
``task.name`` (see ``socio_re.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PathsConfig:
    # Built tiny models, generated sample data and prepared (tokenized) datasets live here.
    cache_dir: str = ".cache/socio_re"


@dataclass
class ModelConfig:
    name: str = "tiny-causal"
    # A hub id (``Qwen/Qwen2.5-14B-Instruct``) or a local directory.
    name_or_path: str = ""
    revision: str | None = None
    # Offline builder that creates ``name_or_path`` when it does not exist (``tiny_causal``).
    build: str | None = None
    # Load the files of ``name_or_path`` from this installed PyPI package instead of the hub.
    local_package: str | None = None
    # encoder (BERT-like) | decoder (causal LM); decides the pooling a classifier uses.
    kind: str = "decoder"
    trust_remote_code: bool = False
    # auto | float32 | bfloat16 | float16; auto = bf16 where the hardware has it, else fp32.
    dtype: str = "auto"
    attn_implementation: str | None = None
    # Override the tokenizer's chat template (a Jinja string); null keeps the checkpoint's.
    chat_template: str | None = None
    # Token used for padding when the tokenizer has none (Llama 3.1 ships without one).
    pad_token: str | None = None
    # gpt-oss: load the MXFP4 expert weights dequantized to bf16 (needed for training).
    mxfp4_dequantize: bool = False
    # Default LoRA targets for this architecture; finetune.target_modules overrides.
    lora_target_modules: Any = "all-linear"
    # Datasets this checkpoint was already fine-tuned on (e.g. [socsci210] for a released
    # Socrates model): scoring it with train=false on a split other than the dataset's official
    # one warns that the test studies may be in its training data.
    trained_on: list[str] = field(default_factory=list)


@dataclass
class FinetuneConfig:
    # full | lora
    method: str = "full"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # null = the model's lora_target_modules; else a list of module names or "all-linear".
    target_modules: Any = None


@dataclass
class FsdpConfig:
    """``strategy.fsdp``: PyTorch FSDP2 (``fully_shard``) options, passed to the Trainer's
    ``fsdp_config``. Checked key by key: a misspelt option is an error, not silently ignored."""

    version: int = 2
    reshard_after_forward: bool = True
    # The layer class(es) to wrap, a name or a list; null = derived from the model.
    transformer_layer_cls_to_wrap: Any = None
    cpu_offload: bool = False
    activation_checkpointing: bool = False
    state_dict_type: str = "SHARDED_STATE_DICT"


@dataclass
class QuantizationConfig:
    """``strategy.quantization``: bitsandbytes 4-bit loading (``BitsAndBytesConfig`` fields)."""

    load_in_4bit: bool = True
    bnb_4bit_quant_type: str = "nf4"
    bnb_4bit_use_double_quant: bool = True
    bnb_4bit_compute_dtype: str = "bfloat16"
    # null = uint8; a float dtype (bfloat16) to shard the 4-bit weights under FSDP or ZeRO-3.
    bnb_4bit_quant_storage: str | None = None


# Sections kept as plain mappings at run time (the engines take dicts) but checked against
# these schemas: dotted path -> dataclass.
ENGINE_SECTIONS: dict[str, type] = {"strategy.fsdp": FsdpConfig,
                                    "strategy.quantization": QuantizationConfig}


@dataclass
class StrategyConfig:
    # single, ddp, fsdp, fsdp_offload, zero2, zero3, zero3_offload, qlora
    name: str = "single"
    # Processes (ranks) to start inside the job; 1 runs in place. null = one per visible GPU
    # (or per entry of ``devices``); 2 on a machine without GPUs.
    num_processes: int | None = 1
    # GPU indices to use instead of juggling CUDA_VISIBLE_DEVICES; null = all visible.
    devices: list[int] | None = None
    # auto = nccl on GPUs, gloo on CPU
    backend: str = "auto"
    # DeepSpeed config as a YAML mapping with "auto" fields; null = no DeepSpeed.
    deepspeed: Any = None
    # FSDP options (version 2; schema: FsdpConfig); null = no FSDP.
    fsdp: Any = None
    # bitsandbytes quantization settings (schema: QuantizationConfig); null = full precision.
    quantization: Any = None
    # How long a collective (all-reduce, barrier) and the ranks' rendezvous wait for a peer
    # before failing: a rank or node that died stops the others after this, not after torch's
    # default 30 min.
    timeout_min: float = 10.0


@dataclass
class TrainerConfig:
    learning_rate: float = 2e-4
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 16
    # When set, gradient accumulation = global / (per_device * processes); must divide evenly.
    global_batch_size: int | None = None
    gradient_accumulation_steps: int = 1
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    logging_steps: int = 10
    # Evaluate (validation loss) and save a checkpoint every N optimizer steps; null = per epoch.
    eval_steps: int | None = None
    save_steps: int | None = None
    save_total_limit: int | None = 2
    # auto | fp32 | bf16 | fp16
    precision: str = "auto"
    gradient_checkpointing: bool = False
    dataloader_num_workers: int = 0
    # Padding-free packed batches (socrates, causal LM with sdpa/eager/flash attention): the
    # batch's examples in one row, position ids restarting per example, nothing padded.
    packing: bool = False
    # Batches of similar lengths (HF LengthGroupedSampler): less padding where packing does not
    # apply (relext's encoders).
    group_by_length: bool = False
    # Simulate a preemption: stop right after the checkpoint at this step (for testing resume).
    stop_at_step: int | None = None
    # Any other transformers.TrainingArguments option, passed through as given (names checked
    # against TrainingArguments; the ones socio_re sets itself are refused with their key).
    hf_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrackingConfig:
    # mlflow | none
    backend: str = "mlflow"
    # null = $MLFLOW_TRACKING_URI, else a sqlite store (mlflow.db) in the working directory.
    tracking_uri: str | None = None
    # null = the task name
    experiment_name: str | None = None
    # MLflow's system metrics (CPU, memory, disk, network; GPUs with nvidia-ml-py) every 10 s
    # on the tracked run, as system/* metrics.
    system_metrics: bool = True


@dataclass
class SweepConfig:
    """Multirun (-m) settings. The job.* fields are filled in by the sweep launcher for each job
    (hydra_plugins/socio_re_launcher); leave them null."""

    # The sweep directory's name under multirun/<task>/; null = derived from the sweep's
    # overrides, so the same command finds the same directory (and its finished jobs) again.
    name: str | None = None
    # Jobs running at once on this machine; null = CPU cores / processes per job (at least 1).
    max_parallel: int | None = None
    # unfinished: skip jobs with a done marker, resume interrupted ones, re-run failed ones;
    # all: run every job again (each still resumes from its own checkpoints unless resume=never).
    rerun: str = "unfinished"
    # Set by the launcher:
    id: str | None = None
    parent_run_id: str | None = None
    job_num: int | None = None
    job_overrides: str | None = None


@dataclass
class RunConfig:
    task: Any = None
    data: Any = None
    model: ModelConfig = field(default_factory=ModelConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    seed: int = 42
    # Cross-validation fold (relext); socrates has no folds.
    fold: Any = None
    run_name: str | None = None
    # auto = continue from the newest complete checkpoint in the run directory; never; or a path.
    resume: str = "auto"
    train: bool = True
    evaluate: bool = True
    tags: list[str] = field(default_factory=list)
