"""relext training throughput: dynamic padding (socio_re's collator) against padding every
instance to the seed pipeline's fixed max length (512), same model, same batches, same steps.

    python benchmarks/bench_relext_train.py [--steps 8] [--batch 16]
"""

from __future__ import annotations

import argparse
import random

from common import compose_rc, pad_to, record, row, time_train_steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--fixed", type=int, default=512)
    args = p.parse_args()

    import torch

    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.data.prepared import prepare
    from socio_re.tasks.relext.encode import encode
    from socio_re.tasks.relext.model import build_classifier
    from socio_re.training.collate import ClassificationCollator

    torch.manual_seed(0)
    rc = compose_rc(["task=relext"])  # MiniLM (the real pretrained encoder), typed markers
    _, tokenizer, _ = build_classifier(rc, LABELS)  # the tokenizer with its marker tokens
    instances = prepare(rc.data, rc.paths.cache_dir).instances
    cols, _ = encode(instances, tokenizer, transform=rc.task.transform, max_length=args.fixed,
                     labels=LABELS)
    rows = [dict(zip(cols, v, strict=True)) for v in zip(*cols.values(), strict=True)]
    random.Random(0).shuffle(rows)
    batches = [rows[i * args.batch:(i + 1) * args.batch] for i in range(args.steps + 1)]
    dynamic = ClassificationCollator(tokenizer.pad_token_id)

    def fixed(features):
        return pad_to(dynamic(features), args.fixed, {
            "input_ids": tokenizer.pad_token_id, "attention_mask": 0})

    def train(collate) -> float:
        return time_train_steps(lambda: build_classifier(rc, LABELS)[0], batches, collate,
                                lr=1e-5)

    real = sum(len(r["input_ids"]) for b in batches[1:] for r in b)
    t_fixed = train(fixed)
    t_dyn = train(dynamic)
    n = args.steps * args.batch
    record("relext_train", [
        row(f"relext training, MiniLM, batch {args.batch}, dynamic padding", n / t_dyn,
            "instances/s", f"pad to {args.fixed}", n / t_fixed),
        row("relext training, real tokens/s, dynamic padding", real / t_dyn, "tokens/s",
            f"pad to {args.fixed}", real / t_fixed),
    ], notes=f"{args.steps} optimizer steps each after a warm-up step, the same batches, CPU")


if __name__ == "__main__":
    main()
