"""Build ``transformers.TrainingArguments`` from the typed trainer/strategy config."""

from __future__ import annotations

from pathlib import Path

from socio_re.config.schema import RunConfig


def gradient_accumulation(rc: RunConfig, world_size: int) -> int:
    """From ``trainer.global_batch_size`` when set (validated to divide evenly), else as given."""
    t = rc.trainer
    if t.global_batch_size is None:
        return t.gradient_accumulation_steps
    return t.global_batch_size // (t.per_device_train_batch_size * world_size)


def mixed_precision(precision: str) -> tuple[bool, bool]:
    """(bf16, fp16) flags; auto means bf16 on a GPU that has it, full precision otherwise."""
    import torch

    if precision == "auto":
        return (torch.cuda.is_available() and torch.cuda.is_bf16_supported()), False
    return precision == "bf16", precision == "fp16"


def training_arguments(rc: RunConfig, run_dir: Path, *, has_eval: bool = True, model=None,
                       **overrides):
    """TrainingArguments of the run, with the strategy's engine settings (DeepSpeed config, FSDP
    options, DDP backend); ``overrides`` are task-specific extras (best model, ...).

    Under DeepSpeed build them *before* loading the model (ZeRO-3 partitions weights as they
    load); under FSDP pass ``model`` so the layer class to wrap can be derived from it."""
    import torch
    from transformers import TrainingArguments

    from socio_re.training.engine import Engine

    engine = Engine.from_strategy(rc.strategy)
    engine.prepare_process()  # a single-process DeepSpeed run starts its group later
    from socio_re.utils.world import world_size as processes

    world_size = processes(rc.strategy.num_processes)  # every node's ranks
    t = rc.trainer
    bf16, fp16 = mixed_precision(t.precision)
    eval_strategy = ("steps" if t.eval_steps else "epoch") if has_eval else "no"
    kwargs = dict(
        output_dir=str(run_dir / "checkpoints"),
        learning_rate=t.learning_rate,
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=gradient_accumulation(rc, world_size),
        lr_scheduler_type=t.lr_scheduler_type,
        # transformers 5: a float in [0, 1) is a ratio of the total steps.
        warmup_steps=float(t.warmup_ratio),
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optim,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        eval_strategy=eval_strategy,
        eval_steps=t.eval_steps,
        save_strategy="steps" if t.save_steps else "epoch",
        save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit,
        bf16=bf16,
        fp16=fp16,
        # transformers 5 name (gradient_checkpointing is its deprecated alias).
        activation_checkpointing=t.gradient_checkpointing,
        dataloader_num_workers=t.dataloader_num_workers,
        seed=rc.seed,
        data_seed=rc.seed,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",  # tracking is ours (socio_re.tracking), one MLflow run per job
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
    )
    if t.group_by_length:
        kwargs["train_sampling_strategy"] = "group_by_length"
    kwargs.update(engine.trainer_kwargs(world_size, model))
    kwargs.update(overrides)
    if t.hf_args:
        from socio_re.config.hf_args import check_hf_args

        check_hf_args(t.hf_args)
        kwargs.update(t.hf_args)
        try:
            return TrainingArguments(**kwargs)
        except (ValueError, TypeError) as exc:  # a value TrainingArguments refuses
            from socio_re.errors import ConfigError

            raise ConfigError("trainer.hf_args", dict(t.hf_args), "values TrainingArguments "
                              "accepts", str(exc).strip().splitlines()[0]) from None
    return TrainingArguments(**kwargs)
