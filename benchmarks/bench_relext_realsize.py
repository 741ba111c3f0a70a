"""relext at the real corpus's size: a generated LitCoin-schema corpus shaped like LitCoin/BioRED
(``generate_litcoin_sample(profile="real")``: 400 / 100 / 100 abstracts, about 10 relations and
34 mentions per abstract, abstracts of about 240 words), its per-split instance counts, NOT share
and truncation at ``task.max_length``, and MiniLM training throughput with the projected epoch
time: dynamic padding (socio_re's collator) on random batches, on length-grouped batches
(``trainer.group_by_length=true``) and with ``data.negative_ratio``, each against the seed
pipeline's padding of every instance to 512 tokens.

    python benchmarks/bench_relext_realsize.py [--steps 8] [--fixed-steps 3] [--batch 16]
                                               [--negative-ratio 3]

Timed batches are chosen from a whole simulated epoch (random order, or the Trainer's
length-grouped order), one per width quantile, so that a few steps stand for the epoch's mix of
short and long batches. A step at a fixed width of 512 costs the same whatever it holds, so the
baseline times fewer of them.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from common import RESULTS, compose_rc, pad_to, record, row, time_train_steps

CORPUS_VERSION = 1  # bump when the real profile of socio_re/tasks/relext/data/sample.py changes
UNTRUNCATED = 100_000


def ensure_corpus(path: Path, seed: int) -> Path:
    """The real-size generated corpus in the cache (written once, reused after)."""
    from socio_re.data.cache import build_once, files_present
    from socio_re.tasks.relext.data.sample import generate_litcoin_sample

    def write(tmp: Path) -> None:
        generate_litcoin_sample(tmp, profile="real", seed=seed)

    return build_once(path, write, meta={"profile": "real", "seed": seed},
                      check=files_present("abstracts_train.csv", "abstracts_dev.csv",
                                          "abstracts_test.csv"))


def epoch_batches(lengths: list[int], batch: int, grouped: bool, seed: int) -> list[list[int]]:
    """One epoch's batches (indices): a random permutation, or the Trainer's length-grouped
    order (transformers' own ``get_length_grouped_indices``, as group_by_length samples)."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    if grouped:
        order = get_length_grouped_indices(lengths, batch,
                                           generator=torch.Generator().manual_seed(seed))
    else:
        order = list(range(len(lengths)))
        random.Random(seed).shuffle(order)
    return [order[i:i + batch] for i in range(0, len(order) - batch + 1, batch)]


def stratified(batches: list[list[int]], lengths: list[int], k: int) -> list[list[int]]:
    """``k`` batches at evenly spaced quantiles of the padded width (max length in the batch)."""
    ranked = sorted(batches, key=lambda b: max(lengths[i] for i in b))
    return [ranked[min(len(ranked) - 1, int((j + 0.5) * len(ranked) / k))] for j in range(k)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--fixed-steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--fixed", type=int, default=512)
    p.add_argument("--negative-ratio", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0, help="corpus seed")
    args = p.parse_args()

    import torch

    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.data.folds import fold_split
    from socio_re.tasks.relext.data.instances import build_instances, downsample_negatives
    from socio_re.tasks.relext.data.prepared import prepare
    from socio_re.tasks.relext.data.readers import read_corpus
    from socio_re.tasks.relext.encode import encode
    from socio_re.tasks.relext.model import build_classifier
    from socio_re.training.collate import ClassificationCollator

    torch.manual_seed(0)
    name = f"litcoin-realsize-v{CORPUS_VERSION}-seed{args.seed}"
    rc = compose_rc(["task=relext", f"data.path=${{paths.cache_dir}}/data/{name}",
                     "data.generate_sample=null"])
    path = ensure_corpus(Path(rc.data.path), args.seed)
    max_length, transform = rc.task.max_length, rc.task.transform
    corpus = read_corpus(path, "litcoin")
    docs = {s: len(d) for s, d in corpus.items()}
    relations = {s: sum(len(doc.relations) for doc in d) for s, d in corpus.items()}
    mentions = {s: sum(len(doc.mentions) for doc in d) for s, d in corpus.items()}
    words = {s: sum(len(doc.text.split()) for doc in d) / len(d) for s, d in corpus.items()}

    # The run's own preparation (folds, type-pair filter from training); dev is not a training
    # split by default, so its instances are built here with the same filter.
    prepared = prepare(rc.data, rc.paths.cache_dir)
    type_pairs = prepared.stats.get("type_pairs")
    pairs = {frozenset(tp.split("|")) for tp in type_pairs} if type_pairs else None
    split_instances = {
        "train": prepared.instances,
        "dev": build_instances(corpus["dev"], context=rc.data.context, type_pairs=pairs)[0],
        "test": prepared.test,
    }
    fold_train, fold_val = fold_split(prepared.instances, prepared.fold_of, rc.fold,
                                      k=rc.data.num_folds)
    sampled = downsample_negatives(fold_train, args.negative_ratio, rc.seed)

    _, tokenizer, _ = build_classifier(rc, LABELS)  # the run's tokenizer with its marker tokens

    def enc(instances, length):
        return encode(instances, tokenizer, transform=transform, max_length=length,
                      labels=LABELS)

    splits: dict[str, dict] = {}
    for split, instances in split_instances.items():
        _, stats = enc(instances, max_length)
        full, full_stats = enc(instances, UNTRUNCATED)
        # Plain right truncation at max_length keeps [CLS] + max_length - 2 tokens: a marker at
        # token index >= max_length - 1 is cut (the old behaviour, and the seed's at 512).
        seed_cut = sum(a >= max_length - 1 or b >= max_length - 1
                       for a, b in zip(full["a_pos"], full["b_pos"], strict=True))
        over_512 = sum(len(x) > args.fixed for x in full["input_ids"])
        splits[split] = {
            "abstracts": docs[split], "relations": relations[split],
            "mentions": mentions[split], "mean_words": round(words[split], 1),
            **stats, "untruncated_mean_tokens": full_stats["mean_tokens"],
            "untruncated_max_tokens": full_stats["max_tokens"],
            "marker_cut_plain_truncation": seed_cut, f"longer_than_{args.fixed}": over_512,
        }
        print(f"{split}: {json.dumps(splits[split])}")

    # Throughput on fold 0's training part, what `python train.py task=relext` trains.
    cols, _ = enc(fold_train, max_length)
    rows_all = [dict(zip(cols, v, strict=True)) for v in zip(*cols.values(), strict=True)]
    lengths = [len(r["input_ids"]) for r in rows_all]
    scols, _ = enc(sampled, max_length)
    rows_sampled = [dict(zip(scols, v, strict=True)) for v in zip(*scols.values(), strict=True)]
    s_lengths = [len(r["input_ids"]) for r in rows_sampled]
    b = args.batch
    random_epoch = epoch_batches(lengths, b, grouped=False, seed=rc.seed)
    grouped_epoch = epoch_batches(lengths, b, grouped=True, seed=rc.seed)
    sampled_epoch = epoch_batches(s_lengths, b, grouped=True, seed=rc.seed)

    def width(epoch, lens):
        return sum(max(lens[i] for i in bt) for bt in epoch) / len(epoch)

    dynamic = ClassificationCollator(tokenizer.pad_token_id)

    def fixed(features):
        return pad_to(dynamic(features), args.fixed, {
            "input_ids": tokenizer.pad_token_id, "attention_mask": 0})

    def rate(epoch, rows, lens, k, collate) -> float:
        chosen = stratified(epoch, lens, k)
        batches = [[rows[i] for i in bt] for bt in [epoch[0], *chosen]]  # epoch[0]: warm-up
        t = time_train_steps(lambda: build_classifier(rc, LABELS)[0], batches, collate, lr=1e-5)
        return k * b / t

    r_fixed = rate(random_epoch, rows_all, lengths, args.fixed_steps, fixed)
    r_dyn = rate(random_epoch, rows_all, lengths, args.steps, dynamic)
    r_grp = rate(grouped_epoch, rows_all, lengths, args.steps, dynamic)
    r_smp = rate(sampled_epoch, rows_sampled, s_lengths, args.steps, dynamic)

    n, n_s, n_all = len(fold_train), len(sampled), len(prepared.instances)

    def minutes(count, r):
        return count / r / 60

    ratio = f"{args.negative_ratio:g}"
    rows = [
        row(f"relext real-size corpus, {s} split ({v['abstracts']} abstracts, "
            f"{v['instances']:,} pair instances): instances keeping both entity markers at "
            f"task.max_length={max_length} (windowed around both entities)",
            v["instances"] - v["marker_cut"], "instances",
            f"plain truncation to the first {max_length} tokens",
            v["instances"] - v["marker_cut_plain_truncation"])
        for s, v in splits.items()
    ] + [
        row(f"relext real-size training (fold 0: {n:,} instances), MiniLM, batch {b}, dynamic "
            "padding, random batches", r_dyn, "instances/s", f"seed: pad to {args.fixed}",
            r_fixed),
        row("the same, length-grouped batches (trainer.group_by_length=true)", r_grp,
            "instances/s", f"seed: pad to {args.fixed}", r_fixed),
        row("length-grouped against random batches, both dynamic padding", r_grp,
            "instances/s", "dynamic padding, random batches", r_dyn),
        row(f"projected epoch, fold 0 ({n:,} instances), dynamic padding", minutes(n, r_dyn),
            "min", f"seed: pad to {args.fixed}", minutes(n, r_fixed), higher_is_better=False),
        row(f"projected epoch, fold 0 ({n:,} instances), length-grouped", minutes(n, r_grp),
            "min", f"seed: pad to {args.fixed}", minutes(n, r_fixed), higher_is_better=False),
        row(f"projected epoch, fold 0 with data.negative_ratio={ratio} ({n_s:,} instances), "
            f"length-grouped (measured: {r_smp:.3g} instances/s)", minutes(n_s, r_smp), "min",
            f"seed: pad to {args.fixed}, all {n:,} instances", minutes(n, r_fixed),
            higher_is_better=False),
        row(f"the same recipe against socio_re's defaults (all {n:,} instances, random "
            "batches)", minutes(n_s, r_smp), "min", "dynamic padding, random batches, all pairs",
            minutes(n, r_dyn), higher_is_better=False),
    ]

    def split_line(s, v):
        return (f"{s}: {v['abstracts']} abstracts, {v['relations']:,} relations, "
                f"{v['mentions']:,} mentions, {v['mean_words']:.0f} words per abstract → "
                f"{v['instances']:,} instances, NOT {100 * v['not_share']:.1f}%, "
                f"{v['truncated']:,} longer than {max_length} tokens (windowed), "
                f"{v['marker_cut']} still lose a marker (plain truncation: "
                f"{v['marker_cut_plain_truncation']:,}), {v[f'longer_than_{args.fixed}']} longer "
                f"than {args.fixed}; tokens mean {v['untruncated_mean_tokens']:.0f} / max "
                f"{v['untruncated_max_tokens']} untruncated, mean {v['mean_tokens']:.0f} after "
                "windowing")

    notes = (
        f"Generated real-size LitCoin-schema corpus (generate_litcoin_sample(profile=\"real\", "
        f"seed={args.seed}), cached in {rc.paths.cache_dir}/data/{name}), task=relext defaults "
        f"(context=sentences, filter_type_pairs=true, {transform}, max_length {max_length}, "
        f"{rc.model.name}). Real LitCoin/BioRED: 400/100/100 abstracts, 4,178/1,162/1,163 "
        f"relations, 13,636 training mentions, about 23k training and 7.6k test instances. "
        f"Per split — " + "; ".join(split_line(s, v) for s, v in splits.items()) + ". "
        f"Training throughput on fold 0's training part ({n:,} instances; fold=all trains on "
        f"all {n_all:,}: {minutes(n_all, r_dyn):.0f} min per epoch at the dynamic-padding rate, "
        f"{minutes(n_all, r_grp):.0f} length-grouped, {minutes(n_all, r_fixed):.0f} padded to "
        f"{args.fixed}); validation (fold 0: {len(fold_val):,} instances) not included. Mean "
        f"padded batch width: random {width(random_epoch, lengths):.0f}, length-grouped "
        f"{width(grouped_epoch, lengths):.0f} tokens. {args.steps} timed AdamW steps per "
        f"configuration ({args.fixed_steps} at the fixed width of {args.fixed}), batch {b}, "
        f"one per width quantile of a whole simulated epoch (random order, or transformers' "
        f"length-grouped order), after one warm-up step; projected epoch = instances / rate. "
        f"data.negative_ratio={ratio} keeps at most {ratio} NOT per relation in training only "
        f"({n_s:,} of {n:,}). CPU, one process; the machine is shared, so read ratios.")
    out = record("relext_realsize", rows, notes=notes)
    data = json.loads(out.read_text())
    data["splits"] = splits
    data["epoch"] = {"fold0_train_instances": n, "fold0_val_instances": len(fold_val),
                     "all_train_instances": n_all,
                     f"fold0_train_instances_negative_ratio_{ratio}": n_s,
                     "instances_per_s": {"pad_to_fixed": r_fixed, "dynamic_random": r_dyn,
                                         "dynamic_grouped": r_grp,
                                         "dynamic_grouped_negative_ratio": r_smp}}
    (RESULTS / "relext_realsize.json").write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
