"""The plain way: a copied-style SFT script with the same libraries (transformers Trainer), the
same tiny model and the same SocSci210 train rows, and no socio_re. The overhead benchmark
times it against ``python train.py`` doing the same training.

    python benchmarks/baselines/plain_sft.py MODEL_DIR TRAIN_PARQUET --steps 6 [--pad-to 2048]
"""

import argparse
import time

START = time.perf_counter()

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("train")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--pad-to", type=int, default=0, help="0 = pad each batch to its longest")
    p.add_argument("--out", default="/tmp/plain_sft")
    p.add_argument("--system", default="You are simulating a survey respondent.")
    args = p.parse_args()

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    df = pd.read_parquet(args.train)
    rows = []
    for prompt, response in zip(df["prompt"], df["response"], strict=True):
        msgs = [{"role": "system", "content": args.system}, {"role": "user", "content": prompt}]
        head = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True,
                                       return_dict=False)
        answer = tok(f"{response}{tok.eos_token}", add_special_tokens=False)["input_ids"]
        rows.append({"input_ids": head + answer, "labels": [-100] * len(head) + answer})

    def collate(batch):
        width = args.pad_to or max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = (torch.tensor(r["input_ids"]),
                                                      torch.tensor(r["labels"]), 1)
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    class FirstStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                print(f"FIRST_STEP {time.perf_counter() - START:.3f}", flush=True)

    targs = TrainingArguments(output_dir=args.out, max_steps=args.steps,
                              per_device_train_batch_size=args.batch, learning_rate=1e-3,
                              logging_steps=1, save_strategy="no", report_to=[],
                              use_cpu=True, remove_unused_columns=False)
    Trainer(model=model, args=targs, train_dataset=rows, data_collator=collate,
            callbacks=[FirstStep()]).train()
    print(f"TOTAL {time.perf_counter() - START:.3f}", flush=True)


if __name__ == "__main__":
    main()
