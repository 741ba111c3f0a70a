"""Write SocSci210 at full size (2.9M responses, 210 studies) in the exact schema, shard by shard.

python scripts/make_socsci_fullscale.py --out data/socsci_full            # 100%
python scripts/make_socsci_fullscale.py --out data/socsci_10pct --scale 0.1
Then: python train.py data=socsci210 data.path=data/socsci_full
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Let the script run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socio_re.tasks.socrates.data.sample import generate_full_scale

FULL_ROWS = 2_900_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory for the parquet shards")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 2.9M rows")
    parser.add_argument("--num-studies", type=int, default=210)
    parser.add_argument("--shard-rows", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    rows = int(FULL_ROWS * args.scale)
    if rows < args.num_studies:
        parser.error(f"--scale {args.scale} gives {rows} rows, fewer than --num-studies")
    start = time.perf_counter()
    paths = generate_full_scale(args.out, rows=rows, num_studies=args.num_studies,
                                seed=args.seed, shard_rows=args.shard_rows)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} shards ({size / 2**20:,.0f} MiB) to {args.out} in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
