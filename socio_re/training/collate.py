"""Dynamic padding: pad each batch to its longest row, not to max_length."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pad_right(rows: Sequence[Sequence[int]], value: int, multiple_of: int | None = None):
    """(tensor n × width right-padded with ``value``, attention mask of the real positions)."""
    import torch

    width = max(len(r) for r in rows)
    if multiple_of:
        width = -(-width // multiple_of) * multiple_of
    out = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return out, mask


class CausalLMCollator:
    """Right-pads input_ids with the pad id and labels with -100; drops bookkeeping columns."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = 8):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        m = self.pad_to_multiple_of
        input_ids, attention_mask = pad_right([f["input_ids"] for f in features],
                                              self.pad_token_id, m)
        labels, _ = pad_right([f["labels"] for f in features], -100, m)
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
