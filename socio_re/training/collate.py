"""Dynamic padding: pad each batch to its longest row, not to max_length (causal-LM and
classification batches)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pad_right(rows: Sequence[Sequence[int]], value: int, multiple_of: int | None = None):
    """(tensor n × width right-padded with ``value``, attention mask of the real positions);
    torch's ``pad_sequence``, widened to a multiple of ``multiple_of`` (tensor-core friendly
    shapes on GPUs)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    tensors = [torch.as_tensor(list(r), dtype=torch.long) for r in rows]
    out = pad_sequence(tensors, batch_first=True, padding_value=value)
    mask = pad_sequence([torch.ones_like(t) for t in tensors], batch_first=True, padding_value=0)
    width = out.shape[1]
    if multiple_of and width % multiple_of:
        extra = multiple_of - width % multiple_of
        out = torch.nn.functional.pad(out, (0, extra), value=value)
        mask = torch.nn.functional.pad(mask, (0, extra), value=0)
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


class ClassificationCollator:
    """Right-pads a batch (last-token pooling relies on it) and carries the per-row integer
    columns the model reads (labels, entity start positions, the novelty target) when present."""

    ROW_COLUMNS = ("labels", "a_pos", "b_pos", "novelty")

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids, mask = pad_right([f["input_ids"] for f in features], self.pad_token_id)
        batch = {"input_ids": ids, "attention_mask": mask}
        for key in self.ROW_COLUMNS:
            if key in features[0]:
                batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
        return batch
