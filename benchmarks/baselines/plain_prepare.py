"""The plain way to prepare SocSci210 for SFT, as a researcher writes it with Hugging Face
``datasets`` and no socio_re: ``load_dataset("parquet")``, ``filter`` out malformed rows, split
by study, ``map`` a chat-template tokenize function over all cores (``num_proc``), and rely on
``datasets``' fingerprint cache for the second run. The same work as socio_re's prepare step
(same rows kept, same token ids, unpadded: a stronger baseline than the seed guide's padding to
2048). ``bench_prepare.py`` runs it beside socio_re on the same shards.

    python benchmarks/baselines/plain_prepare.py DATA_DIR CACHE_DIR MODEL_DIR [--held SPLIT.json]

``--held`` names the held-out studies (``{"test": [...], "val": [...]}``) so that both pipelines
tokenize the same rows; without it the studies are drawn at random.
"""

import argparse
import glob
import json
import os
import random
import time

SYSTEM = ("You are simulating a survey respondent. Answer exactly as instructed, following the "
          "specified response format without additional commentary.")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("cache")
    p.add_argument("model")
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--system", default=SYSTEM)
    p.add_argument("--held", help="JSON file: {'test': [study ids], 'val': [study ids]}")
    args = p.parse_args()
    start = time.perf_counter()

    import pyarrow.compute as pc
    from datasets import load_dataset
    from transformers import AutoTokenizer

    procs = os.cpu_count() or 1
    tok = AutoTokenizer.from_pretrained(args.model)
    files = sorted(glob.glob(os.path.join(args.data, "*.parquet")))
    ds = load_dataset("parquet", data_files=files, split="train", cache_dir=args.cache)

    def valid(batch):
        return [r is not None and isinstance(pr, str) and pr.strip() != ""
                and isinstance(s, str) and s != ""
                for r, pr, s in zip(batch["response"], batch["prompt"], batch["study_id"],
                                    strict=True)]

    ds = ds.filter(valid, batched=True, num_proc=procs)
    if args.held:
        with open(args.held) as f:
            named = json.load(f)
        held = {s: name for name in ("test", "val") for s in named[name]}
    else:
        studies = sorted(set(ds["study_id"]))
        random.Random(42).shuffle(studies)
        n_test = round(len(studies) * args.test_fraction)
        n_val = max(1, round(len(studies) * args.val_fraction))
        held = {s: "test" for s in studies[:n_test]} | {s: "val" for s in
                                                         studies[n_test:n_test + n_val]}
    splits = {name: ds.filter(lambda b, n=name: [held.get(s, "train") == n
                                                 for s in b["study_id"]],
                              batched=True, num_proc=procs)
              for name in ("train", "val", "test")}
    split_s = time.perf_counter() - start

    def tokenize(batch):
        out = {"input_ids": [], "labels": []}
        for prompt, response in zip(batch["prompt"], batch["response"], strict=True):
            messages = [{"role": "system", "content": args.system},
                        {"role": "user", "content": prompt}]
            p_ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                            return_dict=False)
            a_ids = tok(str(int(response)), add_special_tokens=False)["input_ids"]
            ids = list(p_ids) + a_ids + [tok.eos_token_id]
            if len(ids) <= args.max_length:
                out["input_ids"].append(ids)
                out["labels"].append([-100] * len(p_ids) + a_ids + [tok.eos_token_id])
        return out

    tokens = 0
    for name in ("train", "val"):
        split = splits[name]
        done = split.map(tokenize, batched=True, num_proc=procs, remove_columns=split.column_names,
                         desc=f"tokenizing {name}")
        tokens += pc.sum(pc.list_value_length(done.data.column("input_ids"))).as_py() or 0
    total = time.perf_counter() - start
    rows = sum(len(s) for s in splits.values())
    print("RESULT " + json.dumps({"rows": rows, "split_s": split_s, "total_s": total,
                                  "tokens": tokens}))


if __name__ == "__main__":
    main()
