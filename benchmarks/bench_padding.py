"""Share of real (non-padding) tokens per batch, socrates and relext, on the project's data.

Baseline: the seed guides pad every example to a fixed length (socrates 2048 tokens, relext
512). socio_re pads each batch to its longest row (dynamic padding, the default collators), and
length-grouped batches (similar lengths together, as HF's LengthGroupedSampler) pad less still.

    python benchmarks/bench_padding.py
"""

from __future__ import annotations

import random

from common import compose_rc, record, row


def shares(lengths: list[int], batch: int, fixed: int, seed: int = 0) -> dict[str, float]:
    """Real-token share under fixed-length padding, dynamic padding (random batches, rounded
    to a multiple of 8 as the collator does), and length-grouped dynamic padding."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    real = sum(lengths)

    def padded(batches: list[list[int]]) -> int:
        return sum(-(-max(lengths[i] for i in b) // 8) * 8 * len(b) for b in batches)

    random_batches = [order[i:i + batch] for i in range(0, len(order), batch)]
    # HF LengthGroupedSampler: mega-batches of 50 batches, sorted by length inside.
    grouped = []
    mega = 50 * batch
    for i in range(0, len(order), mega):
        chunk = sorted(order[i:i + mega], key=lambda j: -lengths[j])
        grouped += [chunk[k:k + batch] for k in range(0, len(chunk), batch)]
    return {"fixed": real / (len(lengths) * fixed), "dynamic": real / padded(random_batches),
            "grouped": real / padded(grouped)}


def socrates_lengths() -> tuple[list[int], int]:
    from socio_re.models.load import load_tokenizer, resolve_model_path
    from socio_re.tasks.socrates.data.prepared import prepare_splits
    from socio_re.tasks.socrates.formatting import tokenize_frame

    rc = compose_rc(["task=socrates"])
    tokenizer = load_tokenizer(rc.model, resolve_model_path(rc.model))
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"]
    cols, _ = tokenize_frame(tokenizer, frame, system_prompt=rc.task.system_prompt,
                             include_reasoning=rc.task.include_reasoning, max_length=2048)
    return [len(x) for x in cols["input_ids"]], 8  # the seed guide's batch of 8


def relext_lengths() -> tuple[list[int], int]:
    from socio_re.models.load import load_tokenizer, resolve_model_path
    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.data.prepared import prepare
    from socio_re.tasks.relext.data.transforms import marker_tokens
    from socio_re.tasks.relext.encode import encode

    rc = compose_rc(["task=relext"])
    tokenizer = load_tokenizer(rc.model, resolve_model_path(rc.model),
                               require_chat_template=False)
    tokenizer.add_special_tokens({"additional_special_tokens": marker_tokens(rc.task.transform)},
                                 replace_extra_special_tokens=False)
    instances = prepare(rc.data, rc.paths.cache_dir).instances
    cols, _ = encode(instances, tokenizer, transform=rc.task.transform, max_length=512,
                     labels=LABELS)
    return [len(x) for x in cols["input_ids"]], 16  # the seed recipe's batch of 16


def main() -> None:
    rows = []
    for task, (lengths, batch), fixed in (("socrates", socrates_lengths(), 2048),
                                          ("relext", relext_lengths(), 512)):
        s = shares(lengths, batch, fixed)
        mean = sum(lengths) / len(lengths)
        note = (f"{len(lengths)} examples, mean {mean:.0f} / max {max(lengths)} tokens, "
                f"batch {batch}")
        rows.append(row(f"{task}: real-token share, dynamic padding ({note})", s["dynamic"],
                        "share", f"pad to {fixed}", s["fixed"]))
        rows.append(row(f"{task}: real-token share, length-grouped batches", s["grouped"],
                        "share", f"pad to {fixed}", s["fixed"]))
    record("padding", rows, notes="share = real tokens / tokens in the padded batches; ratio = "
           "how many times more real tokens per padded token than the fixed-length baseline")


if __name__ == "__main__":
    main()
