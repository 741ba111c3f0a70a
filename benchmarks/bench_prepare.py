"""socrates data preparation at scale: generate SocSci210-schema shards (10% = 290k rows by
default; --scale 1.0 for all 2.9M), then time the prepare step a run does — read, validate,
split, format, tokenize (all cores), cache — with its peak memory, and the second run served
from the cache; beside it, on the same shards and the same held-out studies, the plain
``datasets`` pipeline (``benchmarks/baselines/plain_prepare.py``), cold and from its cache.

    python benchmarks/bench_prepare.py [--scale 0.1] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import ROOT, record, row, run_with_peak_memory, socsci_shards

# Runs in a child process, so that its memory (and its workers') is measured on its own.
CHILD = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
from common import compose_rc
from socio_re.models.load import load_tokenizer, resolve_model_path
from socio_re.tasks.socrates.data.prepared import prepare_splits, tokenized_splits
rc = compose_rc(["task=socrates", "data=socsci210", "data.path={data}"])
tokenizer = load_tokenizer(rc.model, resolve_model_path(rc.model))
start = time.perf_counter()
prepared = prepare_splits(rc.data, {cache!r})
split_s = time.perf_counter() - start
_, stats = tokenized_splits(prepared, tokenizer, rc.task, {cache!r})
total = time.perf_counter() - start
rows = sum(prepared.rows(n) for n in ("train", "val", "test"))
keys = prepared.manifest["group_keys"]
print("RESULT " + json.dumps({{"rows": rows, "split_s": split_s, "total_s": total,
                              "held": {{n: keys[n] for n in ("test", "val")}},
                              "tokens": sum(s["tokens"] for s in stats.values()),
                              "model": str(resolve_model_path(rc.model)),
                              "system": rc.task.system_prompt,
                              "max_length": rc.task.max_length}}))
"""


def result_of(argv: list[str]) -> dict:
    """Run a pipeline in a child process; its RESULT line, with the peak memory of its whole
    process tree (the workers included)."""
    code, stdout, stderr, peak = run_with_peak_memory(argv)
    if code:
        sys.exit(f"{argv[:2]} failed:\n{stderr[-3000:]}")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "peak_gib": peak}


def run_child(data: Path, cache: Path) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), data=str(data), cache=str(cache))
    return result_of([sys.executable, "-c", code])


def run_plain(data: Path, cache: Path, ours: dict, held: Path) -> dict:
    return result_of([sys.executable, "benchmarks/baselines/plain_prepare.py", str(data),
                      str(cache), ours["model"], "--held", str(held), "--system", ours["system"],
                      "--max-length", str(ours["max_length"])])


def figures(pct: str, ours: dict, ref: dict, name: str, factor: float,
            memory_name: str) -> list[dict]:
    """Throughput, wall, split time and peak memory against a reference run whose times are
    scaled by ``factor`` (1 for the same data; the row ratio when comparing scales, so that a
    ratio of 1 means linear)."""
    return [
        row(f"prepare at {pct} scale ({ours['rows']:,} rows): read+validate+split+tokenize",
            ours["rows"] / ours["total_s"], "rows/s", name, ref["rows"] / ref["total_s"]),
        row(f"prepare at {pct} scale: wall time", ours["total_s"], "s", name,
            ref["total_s"] * factor, higher_is_better=False),
        row(f"prepare at {pct} scale: of which read+validate+split", ours["split_s"], "s", name,
            ref["split_s"] * factor, higher_is_better=False),
        row(f"prepare at {pct} scale: peak memory, all processes (PSS)", ours["peak_gib"], "GiB",
            memory_name, ref["peak_gib"], higher_is_better=False),
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the plain datasets pipeline (the 100%% run: it would double it)")
    args = p.parse_args()
    data, gen_s = socsci_shards(args.scale)
    with tempfile.TemporaryDirectory() as cache:
        small = None
        if args.scale > 0.1:
            small = run_child(socsci_shards(0.1)[0], Path(cache) / "small")
        cold = run_child(data, Path(cache) / "ours")
        warm = run_child(data, Path(cache) / "ours")
        if args.no_baseline:
            plain = plain_warm = None
        else:
            held = Path(cache) / "held.json"
            held.write_text(json.dumps(cold["held"]))
            plain = run_plain(data, Path(cache) / "plain", cold, held)
            plain_warm = run_plain(data, Path(cache) / "plain", cold, held)
            if plain["tokens"] != cold["tokens"]:
                sys.exit(f"the pipelines disagree: {cold['tokens']} tokens vs the plain "
                         f"pipeline's {plain['tokens']}")
    pct = f"{args.scale:.0%}"
    rows = []
    if plain:  # the same shards, the same held-out studies, the plain datasets pipeline
        rows += figures(pct, cold, plain, "plain datasets pipeline", 1.0,
                        "plain datasets pipeline")
        rows.append(row(f"prepare at {pct} scale: second run (cache hit) against the plain "
                        "pipeline's", warm["total_s"], "s", "plain pipeline, second run",
                        plain_warm["total_s"], higher_is_better=False))
    if small:  # scaling, in this same run: times against 10% × the row ratio, memory as is
        factor = cold["rows"] / small["rows"]
        rows += figures(pct, cold, small, f"10% scale ({small['rows']:,} rows), times ×"
                        f"{factor:.1f}", factor, "10% scale")
    rows.append(row(f"prepare at {pct} scale: second run (cache hit)", warm["total_s"], "s",
                    "first run", cold["total_s"], higher_is_better=False))
    notes = ("read+validate+split stream the shards in 100k-row batches (two passes: keys, then "
             "rows written as parquet parts); tokenization runs in one spawned worker per core, "
             "each reading its own 10k-row parquet row groups and writing int32 Arrow chunks "
             "that are the cache, tokenizing 1,000 rows per Rust call.")
    if plain:
        notes += (f" Plain pipeline: load_dataset('parquet') → filter → split by the same "
                  f"held-out studies → map(apply_chat_template per row, num_proc=cores), its "
                  f"fingerprint cache for the second run; both tokenize train+val, "
                  f"{cold['tokens']:,} tokens each (asserted equal).")
    if gen_s:
        notes += f" Generating the {pct} shards took {gen_s:.0f} s (once; kept in the cache)."
    record(f"prepare_{args.scale:g}", rows, notes=notes)


if __name__ == "__main__":
    main()
