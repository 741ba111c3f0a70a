"""Write the reference pipeline's split files (split_0.json … split_{k-1}.json, test.json) for a
relext corpus, with the same folds ``python train.py task=relext`` uses.

    python scripts/make_relext_splits.py --data /data/BioRED --out splits/ [--folds 5 --seed 42]

The files read back with ``data=relext-splits data.path=splits/`` (fold k validates on split_k).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="LitCoin / PubTator / BioC directory or file")
    p.add_argument("--format", default="auto")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--train-splits", default="train", help="comma-separated, e.g. train,dev")
    p.add_argument("--test-split", default="test")
    p.add_argument("--context", choices=["sentences", "abstract"], default="sentences")
    p.add_argument("--cache-dir", default=".cache/socio_re")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])

    def write() -> None:
        from socio_re.tasks.relext.config import RelextDataConfig
        from socio_re.tasks.relext.data.prepared import prepare

        cfg = RelextDataConfig(name="cli", format=args.format, path=args.data,
                               train_splits=args.train_splits.split(","),
                               test_split=args.test_split, num_folds=args.folds,
                               fold_seed=args.seed, context=args.context)
        prepared = prepare(cfg, args.cache_dir)
        args.out.mkdir(parents=True, exist_ok=True)
        for f in sorted(prepared.directory.glob("*.json")):
            shutil.copy(f, args.out / f.name)
        print(f"wrote {len(list(args.out.glob('split_*.json')))} split files "
              f"({len(prepared.instances)} instances) and test.json to {args.out}")

    run_reporting_user_errors(write)


if __name__ == "__main__":
    main()
