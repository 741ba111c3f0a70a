"""socrates data preparation at scale: generate SocSci210-schema shards (10% = 290k rows by
default; --scale 1.0 for all 2.9M), then time the prepare step a run does — read, validate,
split, format, tokenize (all cores), cache — with its peak memory, and the second run served
from the cache.

    python benchmarks/bench_prepare.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, compose_rc, record, row

# Runs in a child process so its peak memory is its own.
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from common import compose_rc
from socio_re.models.load import load_tokenizer, resolve_model_path
from socio_re.tasks.socrates.data import prepare_splits, tokenized_splits
rc = compose_rc(["task=socrates", "data=socsci210", "data.path={data}"])
tokenizer = load_tokenizer(rc.model, resolve_model_path(rc.model))
start = time.perf_counter()
prepared = prepare_splits(rc.data, {cache!r})
split_s = time.perf_counter() - start
tokenized_splits(prepared, tokenizer, rc.task, {cache!r})
total = time.perf_counter() - start
rows = sum(prepared.rows(n) for n in ("train", "val", "test"))
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 2**20
print("RESULT " + json.dumps({{"rows": rows, "split_s": split_s, "total_s": total,
                              "peak_gib": peak}}))
"""


def run_child(data: Path, cache: Path) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), data=str(data), cache=str(cache))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=0.1)
    args = p.parse_args()
    rc = compose_rc(["task=socrates"])
    data = Path(rc.paths.cache_dir) / "bench" / f"socsci-{args.scale:g}"
    gen_s = None
    if not any(data.glob("train-*.parquet")):
        start = time.perf_counter()
        subprocess.run([sys.executable, "scripts/make_socsci_fullscale.py", "--out", str(data),
                        "--scale", str(args.scale)], cwd=ROOT, check=True)
        gen_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(data, Path(cache))
        warm = run_child(data, Path(cache))
    pct = f"{args.scale:.0%}"
    rows = [
        row(f"prepare at {pct} scale ({cold['rows']:,} rows): read+validate+split+tokenize",
            cold["rows"] / cold["total_s"], "rows/s"),
        row(f"prepare at {pct} scale: wall time", cold["total_s"], "s"),
        row(f"prepare at {pct} scale: of which read+validate+split", cold["split_s"], "s"),
        row(f"prepare at {pct} scale: peak memory (process + workers)", cold["peak_gib"], "GiB"),
        row(f"prepare at {pct} scale: second run (cache hit)", warm["total_s"], "s",
            "first run", cold["total_s"], higher_is_better=False),
    ]
    if gen_s:
        rows.append(row(f"generate {pct} of SocSci210 (parquet shards)", gen_s, "s"))
    record(f"prepare_{args.scale:g}", rows, notes=(
        "read+validate+split stream the shards in 100k-row batches (two passes: keys, then rows "
        "written as parquet parts); tokenization runs in one spawned worker per core, each "
        "reading its own 10k-row parquet row groups and writing Arrow chunks that are the cache"))


if __name__ == "__main__":
    main()
