"""Marked text → token ids, with the token positions of the entity start markers."""

from __future__ import annotations

from typing import Any


def prepare_tokenizer(tokenizer, model, transform: str) -> list[int]:
    """Add the transform's marker tokens, resize the embeddings (before any PEFT wrapping), and
    return the new token ids (their rows must train, also under LoRA)."""
    from socio_re.tasks.relext.data.transforms import marker_tokens

    new = [t for t in marker_tokens(transform) if t not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"additional_special_tokens": new},
                                     replace_extra_special_tokens=False)
        model.backbone.resize_token_embeddings(len(tokenizer))
    return tokenizer.convert_tokens_to_ids(new)


def encode(instances: list, tokenizer, *, transform: str, max_length: int,
           labels: tuple[str, ...], novelty: str = "none"
           ) -> tuple[dict[str, list], dict[str, Any]]:
    """Token ids, entity start positions and training targets. ``labels`` are the type labels;
    ``novelty`` (``task.novelty``) decides the targets: ``joint`` numbers the (type, novelty)
    classes, ``head`` adds a ``novelty`` column (1 Novel, 0 No, -100 none)."""
    from socio_re.tasks.relext.data.transforms import apply_transform
    from socio_re.tasks.relext.novelty import label_id, novelty_target
    from socio_re.tasks.relext.windows import first_marker_token, windowed_encodings

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
    # A text longer than max_length keeps a window around one marker of each entity.
    encodings, _ = windowed_encodings(tokenizer, texts, [i["a_starts"] for i in infos],
                                      [i["b_starts"] for i in infos], max_length)
    for k, (inst, enc) in enumerate(zip(instances, encodings, strict=True)):
        offsets = enc.offsets
        real = [o for o in offsets if o != (0, 0)]
        if real and (real[0][0] > 0 or real[-1][1] < len(texts[k].rstrip())):
            truncated += 1
        a = first_marker_token(offsets, infos[k]["a_starts"], texts[k])
        b = first_marker_token(offsets, infos[k]["b_starts"], texts[k])
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
    negatives = sum(inst.type == "NOT" for inst in instances)
    stats = {"instances": len(instances), "not_share": round(negatives / len(instances), 4)
             if instances else 0.0, "truncated": truncated, "marker_cut": marker_cut,
             "max_tokens": max(lengths, default=0),
             "mean_tokens": round(sum(lengths) / len(lengths), 1) if lengths else 0}
    return cols, stats

