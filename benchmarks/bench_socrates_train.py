"""socrates SFT throughput on the tiny model: pad-to-2048 (the seed guide) against socio_re's
dynamic padding (default) and packed padding-free batches (``trainer.packing=true``), the same
batches, the same number of optimizer steps, real (non-padding) tokens per second.

    python benchmarks/bench_socrates_train.py [--steps 6] [--batch 8]
"""

from __future__ import annotations

import argparse
import random

from common import compose_rc, pad_to, record, row, time_train_steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--fixed", type=int, default=2048)
    args = p.parse_args()

    from socio_re.models.load import load_causal_lm, load_tokenizer, resolve_model_path
    from socio_re.tasks.socrates.data.prepared import prepare_splits
    from socio_re.tasks.socrates.formatting import tokenize_frame
    from socio_re.training.collate import CausalLMCollator
    from socio_re.training.packing import PackedCausalLMCollator

    rc = compose_rc(["task=socrates"])
    path = resolve_model_path(rc.model)
    tokenizer = load_tokenizer(rc.model, path)
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"]
    cols, _ = tokenize_frame(tokenizer, frame, system_prompt=rc.task.system_prompt,
                             include_reasoning=rc.task.include_reasoning, max_length=args.fixed)
    rows = [{"input_ids": i, "labels": lab} for i, lab in zip(cols["input_ids"], cols["labels"],
                                                              strict=True)]
    random.Random(0).shuffle(rows)
    batches = [rows[i * args.batch:(i + 1) * args.batch] for i in range(args.steps + 1)]
    dynamic = CausalLMCollator(tokenizer.pad_token_id)

    def fixed(features):
        return pad_to(dynamic(features), args.fixed, {
            "input_ids": tokenizer.pad_token_id, "labels": -100, "attention_mask": 0})

    def train(collate) -> float:
        return time_train_steps(lambda: load_causal_lm(rc.model, tokenizer, path), batches,
                                collate, lr=1e-3)

    real = sum(len(r["input_ids"]) for b in batches[1:] for r in b)
    t_fixed = train(fixed)
    t_dyn = train(dynamic)
    t_packed = train(PackedCausalLMCollator())
    record("socrates_train", [
        row(f"socrates SFT, tiny model, batch {args.batch}, dynamic padding", real / t_dyn,
            "real tokens/s", f"pad to {args.fixed}", real / t_fixed),
        row("socrates SFT, packed padding-free batches", real / t_packed, "real tokens/s",
            f"pad to {args.fixed}", real / t_fixed),
        row("socrates SFT, packed against dynamic padding", real / t_packed, "real tokens/s",
            "dynamic padding", real / t_dyn),
    ], notes=f"{args.steps} optimizer steps each after one warm-up step, the same batches")


if __name__ == "__main__":
    main()
