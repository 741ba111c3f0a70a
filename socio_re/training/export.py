"""Save the trained model as a plain Hugging Face directory, whatever engine trained it."""

from __future__ import annotations

import shutil
from pathlib import Path


def full_state_dict(trainer) -> dict | None:
    """Every rank joins the gather; rank 0 gets the whole (unsharded, CPU) state dict.

    FSDP2 parameters are DTensors whose shards may be uneven (a vocabulary of 1615 rows over 2
    ranks); ``get_model_state_dict(full_state_dict=True)`` redistributes them correctly, where
    flattening shards for a plain save fails.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    state = get_model_state_dict(trainer.model, options=options)
    return state if trainer.is_world_process_zero() else None


def save_full_model(trainer, final: Path, save_fn=None) -> Path:
    """``final`` as a from_pretrained-able directory (LoRA: the adapter). Collective: every rank
    must call it. ``save_fn(model, directory, state_dict)`` overrides how rank 0 writes."""
    if trainer.is_world_process_zero() and final.exists():
        shutil.rmtree(final)
    if trainer.is_fsdp_enabled:
        state = full_state_dict(trainer)
        if trainer.is_world_process_zero():
            model = trainer.accelerator.unwrap_model(trainer.model)
            if save_fn:
                save_fn(model, final, state)
            else:
                model.save_pretrained(str(final), state_dict=state)
        trainer.accelerator.wait_for_everyone()
        return final
    if save_fn:
        model = trainer.accelerator.unwrap_model(trainer.model)
        state = None
        if trainer.is_deepspeed_enabled and \
                trainer.accelerator.state.deepspeed_plugin.zero_stage == 3:
            state = trainer.accelerator.get_state_dict(trainer.model_wrapped)  # gathers ZeRO-3
        if trainer.is_world_process_zero():
            save_fn(model, final, state)
        trainer.accelerator.wait_for_everyone()
        return final
    trainer.save_model(str(final))  # DeepSpeed ZeRO-3 gathers the 16-bit weights itself
    return final


def leave_distributed_context() -> None:
    """After training, forget the global ZeRO-3 config: otherwise a later from_pretrained on one
    rank (scoring the exported model) partitions weights across ranks that have already left."""
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
