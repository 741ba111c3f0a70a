"""Write the synthetic SocSci210-style sample used by tests and offline smoke runs.

python scripts/make_socsci_sample.py --out data/socsci_sample
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Let the script run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socio_re.tasks.socrates.data.sample import generate_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory for the parquet shards")
    parser.add_argument("--num-studies", type=int, default=12)
    parser.add_argument("--participants-per-study", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-shards", type=int, default=2)
    args = parser.parse_args(argv)
    for name in ("num_studies", "participants_per_study", "num_shards"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    paths = generate_sample(
        args.out,
        num_studies=args.num_studies,
        participants_per_study=args.participants_per_study,
        seed=args.seed,
        num_shards=args.num_shards,
    )
    print(f"wrote {len(paths)} shard(s) to {Path(args.out).resolve()}:")
    for path in paths:
        print(f"  {path.name}")
    print(f"use it with data.path={Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
