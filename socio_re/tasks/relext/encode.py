"""Marked text → token ids, with the token positions of the entity start markers."""

from __future__ import annotations

import bisect
from typing import Any


def prepare_tokenizer(tokenizer, model, transform: str) -> list[int]:
    """Add the transform's marker tokens, resize the embeddings (before any PEFT wrapping), and
    return the new token ids (their rows must train, also under LoRA)."""
    from socio_re.data.relext.transforms import marker_tokens

    new = [t for t in marker_tokens(transform) if t not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"additional_special_tokens": new},
                                     replace_extra_special_tokens=False)
        model.backbone.resize_token_embeddings(len(tokenizer))
    return tokenizer.convert_tokens_to_ids(new)


def _token_at(offsets: list[tuple[int, int]], char: int) -> int | None:
    """Index of the first token whose span ends after ``char`` (None: cut off by truncation)."""
    ends = [e for _, e in offsets]
    i = bisect.bisect_right(ends, char)
    # skip special tokens with (0, 0) spans at the front
    while i < len(offsets) and offsets[i] == (0, 0):
        i += 1
    return i if i < len(offsets) else None


def _encodings(tokenizer, texts: list[str], max_length: int) -> list:
    """Special tokens added, truncated to ``max_length``, not padded: what
    ``tokenizer(texts, truncation=True, max_length=max_length)`` encodes."""
    from socio_re.data.encodings import backend_encodings

    return backend_encodings(tokenizer, texts, add_special_tokens=True, max_length=max_length)


def encode(instances: list, tokenizer, *, transform: str, max_length: int,
           labels: tuple[str, ...], novelty: str = "none"
           ) -> tuple[dict[str, list], dict[str, Any]]:
    """Token ids, entity start positions and training targets. ``labels`` are the type labels;
    ``novelty`` (``task.novelty``) decides the targets: ``joint`` numbers the (type, novelty)
    classes, ``head`` adds a ``novelty`` column (1 Novel, 0 No, -100 none)."""
    from socio_re.data.relext.transforms import apply_transform
    from socio_re.tasks.relext.novelty import label_id, novelty_target

    cols: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": [], "a_pos": [],
                             "b_pos": []}
    if novelty == "head":
        cols["novelty"] = []
    truncated = marker_cut = 0
    texts, infos = [], []
    for inst in instances:
        text, info = apply_transform(inst, transform)
        texts.append(text)
        infos.append(info)
    for k, (inst, enc) in enumerate(zip(instances, _encodings(tokenizer, texts, max_length),
                                        strict=True)):
        offsets = enc.offsets
        real = [o for o in offsets if o != (0, 0)]
        if real and real[-1][1] < len(texts[k].rstrip()):
            truncated += 1
        a = _token_at(offsets, infos[k]["a_start"])
        b = _token_at(offsets, infos[k]["b_start"])
        if a is None or b is None:
            marker_cut += 1
        cols["input_ids"].append(enc.ids)
        cols["attention_mask"].append(enc.attention_mask)
        cols["labels"].append(label_id(inst, labels, novelty))
        if novelty == "head":
            cols["novelty"].append(novelty_target(inst))
        cols["a_pos"].append(a if a is not None else 0)
        cols["b_pos"].append(b if b is not None else 0)
    lengths = [len(x) for x in cols["input_ids"]]
    stats = {"instances": len(instances), "truncated": truncated, "marker_cut": marker_cut,
             "max_tokens": max(lengths, default=0),
             "mean_tokens": round(sum(lengths) / len(lengths), 1) if lengths else 0}
    return cols, stats


class PairCollator:
    """Right-pads a batch (last-token pooling relies on it); carries labels and the entity start
    positions."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        from socio_re.training.collate import pad_right

        ids, mask = pad_right([f["input_ids"] for f in features], self.pad_token_id)
        batch = {"input_ids": ids, "attention_mask": mask}
        for key in ("labels", "a_pos", "b_pos", "novelty"):
            if key in features[0]:
                batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
        return batch
