"""``trainer.hf_args``: any other transformers.TrainingArguments option, checked by name."""

from __future__ import annotations

import difflib

# TrainingArguments fields socio_re sets from its own config: not settable via trainer.hf_args
# (the value that counts would be ambiguous), each with the key to use instead.
OWNED_ARGS = {
    "output_dir": "hydra.run.dir", "report_to": "tracking", "deepspeed": "strategy.deepspeed",
    "fsdp": "strategy.fsdp", "fsdp_config": "strategy.fsdp", "ddp_backend": "strategy.backend",
    "use_cpu": "the machine (no GPU: CPU)", "bf16": "trainer.precision",
    "fp16": "trainer.precision", "seed": "seed", "data_seed": "seed",
    "gradient_accumulation_steps": "trainer.gradient_accumulation_steps",
    "activation_checkpointing": "trainer.gradient_checkpointing",
    "gradient_checkpointing": "trainer.gradient_checkpointing",
    "remove_unused_columns": "(needed by the collators)",
}


def check_hf_args(hf_args: dict) -> None:
    """Every ``trainer.hf_args`` key is a TrainingArguments field that socio_re does not own."""
    import dataclasses

    from transformers import TrainingArguments

    from socio_re.errors import ConfigError

    fields = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    for key in hf_args:
        if key in OWNED_ARGS:
            raise ConfigError(f"trainer.hf_args.{key}", hf_args[key],
                              f"not this key: set {OWNED_ARGS[key]} instead",
                              "socio_re sets it from its own config")
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=3)
            raise ConfigError(f"trainer.hf_args.{key}", hf_args[key],
                              "a transformers.TrainingArguments option",
                              "unknown option" + (f"; did you mean {', '.join(close)}?"
                                                  if close else ""))
