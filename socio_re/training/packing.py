"""Padding-free (packed) batches for causal-LM SFT.

A batch's examples are concatenated into one row with no padding at all. Position ids restart
at 0 for every example and no attention mask is passed: transformers (5.x ``masking_utils``)
then detects the packed sequences from the position ids and builds a block-diagonal causal
mask for SDPA and eager attention (flash attention uses the same position ids as varlen
boundaries), so no token attends across examples. tests/test_packing.py checks that the
per-example losses are the same packed and unpacked.

The label of each example's first token is -100: the logit at the end of one example would
otherwise be trained to predict the start of the next.
"""

from __future__ import annotations

from typing import Any

# Attention implementations that keep packed examples apart via position ids.
PACKING_ATTENTION = ("sdpa", "eager", "flash_attention_2", "flash_attention_3")


class PackedCausalLMCollator:
    """transformers' ``DataCollatorWithFlattening`` (position ids restarting per example, -100
    on each example's first label) plus ``use_cache=False``: a packed row has no meaningful
    KV cache to return."""

    def __init__(self):
        from transformers import DataCollatorWithFlattening

        self._flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        columns = ("input_ids", "labels")  # bookkeeping columns stay out of the batch
        batch = self._flatten([{k: f[k] for k in columns} for f in features])
        return {**batch, "use_cache": False}
