"""Entity-pair classifiers for relext: one module for encoders and decoders, three poolings.

- ``cls``: the first token's hidden state (encoders: [CLS]).
- ``entity_start``: the hidden states at the first start marker of entity A and of B,
  concatenated (2H → H → classes), as in the typed-marker RE papers.
- ``last_token``: the last non-padding token (decoders). Padding is on the right (our collator),
  so that is ``attention_mask.sum() - 1``; the model config's pad id is set to the tokenizer's.

The backbone is a plain ``AutoModel`` (BertModel, Qwen2Model, LlamaModel, ...), so any checkpoint
works, LoRA wraps it like any module, and the saved backbone is an ordinary HF directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

POOLINGS = ("cls", "entity_start", "last_token")
HEAD_FILE = "pair_head.safetensors"
META_FILE = "pair_classifier.json"


class PairClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, *,
                 dropout: float = 0.1, label_smoothing: float = 0.0,
                 class_weights: list[float] | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.backbone = backbone
        self.config = backbone.config  # Trainer and PEFT look for model.config
        self.pooling = pooling
        self.num_labels = num_labels
        self.label_smoothing = label_smoothing
        hidden = backbone.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        if pooling == "entity_start":
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(),
                                      nn.Dropout(dropout), nn.Linear(hidden, num_labels))
        else:
            self.head = nn.Sequential(nn.Linear(hidden, num_labels))
        weights = torch.tensor(class_weights, dtype=torch.float) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    # The Trainer calls these when trainer.gradient_checkpointing is on (transformers 5 names).
    def activation_checkpointing_enable(self, activation_checkpointing_kwargs=None, **kwargs):
        self.backbone.activation_checkpointing_enable(
            activation_checkpointing_kwargs=activation_checkpointing_kwargs, **kwargs)

    def activation_checkpointing_disable(self):
        self.backbone.activation_checkpointing_disable()

    def get_input_embeddings(self):
        return self.backbone.get_input_embeddings()

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor,
             a_pos: torch.Tensor | None, b_pos: torch.Tensor | None) -> torch.Tensor:
        rows = torch.arange(hidden.size(0), device=hidden.device)
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last_token":
            last = attention_mask.long().sum(dim=1) - 1
            return hidden[rows, last.clamp(min=0)]
        if a_pos is None or b_pos is None:
            raise ValueError("entity_start pooling needs a_pos and b_pos in the batch")
        return torch.cat([hidden[rows, a_pos], hidden[rows, b_pos]], dim=-1)

    def forward(self, input_ids, attention_mask, labels=None, a_pos=None, b_pos=None,
                **kwargs):
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        pooled = self.pool(hidden, attention_mask, a_pos, b_pos)
        head_dtype = next(self.head.parameters()).dtype
        logits = self.head(self.dropout(pooled.to(head_dtype)))
        loss = None
        if labels is not None:
            weight = self.class_weights.to(logits.dtype) if self.class_weights is not None \
                else None
            loss = nn.functional.cross_entropy(logits.float(), labels, weight=weight,
                                               label_smoothing=self.label_smoothing)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    # --- saving: an ordinary HF backbone directory + the head + a small json --------------
    def save(self, directory: str | Path, tokenizer=None, labels: list[str] | None = None):
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(directory)
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        head = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(head, str(directory / HEAD_FILE))
        (directory / META_FILE).write_text(json.dumps(
            {"pooling": self.pooling, "num_labels": self.num_labels, "labels": labels},
            indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path, dtype=None) -> PairClassifier:
        from safetensors.torch import load_file
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        # The export leaves out the encoder's pooler on purpose (we pool ourselves; it never
        # trains), so transformers' load report would list it as missing on every load.
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            backbone = AutoModel.from_pretrained(directory, dtype=dtype, use_safetensors=True)
        finally:
            hf_logging.set_verbosity(level)
        if getattr(backbone, "pooler", None) is not None:
            backbone.pooler = None
        model = cls(backbone, meta["num_labels"], meta["pooling"])
        model.head.load_state_dict(load_file(str(directory / HEAD_FILE)))
        model.labels = meta.get("labels")
        return model


def default_pooling(kind: str, has_markers: bool) -> str:
    """auto: entity_start when markers exist (their hidden states are the best pair summary),
    else cls for encoders and last_token for decoders."""
    if has_markers:
        return "entity_start"
    return "cls" if kind == "encoder" else "last_token"
