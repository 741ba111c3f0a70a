"""A sequence classifier on any backbone (relext's entity pairs): one module for encoders and
decoders, three poolings.

- ``cls``: the first token's hidden state (encoders: [CLS]).
- ``entity_start``: the hidden states at the first start marker of entity A and of B,
  concatenated (2H → H → classes), as in the typed-marker RE papers.
- ``last_token``: the last non-padding token (decoders). Padding is on the right (our collator),
  so that is ``attention_mask.sum() - 1``; the model config's pad id is set to the tokenizer's.

With ``novelty="head"`` the head has one output more than there are classes: a novelty logit
(P(Novel) of the relation) read off the same pair representation, trained by a binary
cross-entropy on the rows whose ``novelty`` target is 0 or 1 (gold related pairs; -100 elsewhere),
weighted by ``novelty_loss_weight``. Keeping it in the one ``head`` module means LoRA's
``modules_to_save``, FSDP and the saved head file need nothing new.

The backbone is a plain ``AutoModel`` (BertModel, Qwen2Model, LlamaModel, ...), so any checkpoint
works, LoRA wraps it like any module, and the saved backbone is an ordinary HF directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers.utils import ModelOutput

POOLINGS = ("cls", "entity_start", "last_token")
# The saved model's file names, as models saved before the rename have them.
HEAD_FILE = "pair_head.safetensors"
META_FILE = "pair_classifier.json"
NOVELTY_MODES = (None, "head", "joint")


@dataclass
class SequenceClassifierOutput(ModelOutput):
    """``logits`` over the classes; ``novelty_logits`` (one per row) with a novelty head."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    novelty_logits: torch.Tensor | None = None


class SequenceClassifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_labels: int, pooling: str, *,
                 dropout: float = 0.1, label_smoothing: float = 0.0,
                 class_weights: list[float] | None = None, novelty: str | None = None,
                 novelty_loss_weight: float = 1.0):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if novelty not in NOVELTY_MODES:
            raise ValueError(f"novelty must be one of {NOVELTY_MODES}, not {novelty!r}")
        if getattr(backbone, "pooler", None) is not None:
            # An encoder's own pooler is never used (we pool ourselves), and parameters that
            # get no gradient make DDP fail: drop it for every task that builds a classifier.
            backbone.pooler = None
        self.backbone = backbone
        self.config = backbone.config  # Trainer and PEFT look for model.config
        self.pooling = pooling
        self.num_labels = num_labels
        self.label_smoothing = label_smoothing
        # "head": one extra output (the novelty logit); "joint": the classes themselves carry
        # novelty (recorded so that predictions can split them again); None: no novelty.
        self.novelty = novelty
        self.novelty_loss_weight = novelty_loss_weight
        outputs = num_labels + (novelty == "head")
        hidden = backbone.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        if pooling == "entity_start":
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(),
                                      nn.Dropout(dropout), nn.Linear(hidden, outputs))
        else:
            self.head = nn.Sequential(nn.Linear(hidden, outputs))
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
                novelty=None, **kwargs):
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        pooled = self.pool(hidden, attention_mask, a_pos, b_pos)
        head_dtype = next(self.head.parameters()).dtype
        logits = self.head(self.dropout(pooled.to(head_dtype)))
        novelty_logits = None
        if self.novelty == "head":
            logits, novelty_logits = logits[:, :-1], logits[:, -1]
        loss = None
        if labels is not None:
            weight = self.class_weights.to(logits.dtype) if self.class_weights is not None \
                else None
            loss = nn.functional.cross_entropy(logits.float(), labels, weight=weight,
                                               label_smoothing=self.label_smoothing)
            if novelty_logits is not None and novelty is not None:
                loss = loss + self.novelty_loss_weight * novelty_loss(novelty_logits, novelty)
        return SequenceClassifierOutput(loss=loss, logits=logits, novelty_logits=novelty_logits)

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
            {"pooling": self.pooling, "num_labels": self.num_labels, "labels": labels,
             "novelty": self.novelty}, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path, dtype=None) -> SequenceClassifier:
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
        model = cls(backbone, meta["num_labels"], meta["pooling"],
                    novelty=meta.get("novelty"))  # models saved before novelty: None
        model.head.load_state_dict(load_file(str(directory / HEAD_FILE)))
        model.labels = meta.get("labels")
        return model


def novelty_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the rows with a novelty target (0 No, 1 Novel); rows
    marked -100 (NOT pairs) take no part. A batch without such rows adds zero (still connected
    to the graph, so every parameter gets a gradient, as DDP wants)."""
    keep = target >= 0
    if not bool(keep.any()):
        return logits.float().sum() * 0.0
    return nn.functional.binary_cross_entropy_with_logits(logits[keep].float(),
                                                          target[keep].float())


def default_pooling(kind: str, has_markers: bool) -> str:
    """auto: entity_start when markers exist (their hidden states are the best pair summary),
    else cls for encoders and last_token for decoders."""
    if has_markers:
        return "entity_start"
    return "cls" if kind == "encoder" else "last_token"
