"""Write the synthetic LitCoin-style relation-extraction sample used by tests and smoke runs.

python scripts/make_relext_sample.py --out data/relext_sample
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Let the script run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socio_re.tasks.relext.data.sample import generate_litcoin_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory for the LitCoin files")
    parser.add_argument("--num-train", type=int, default=160, help="train abstracts")
    parser.add_argument("--num-test", type=int, default=40, help="test abstracts (with relations)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("num_train", "num_test"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    paths = generate_litcoin_sample(
        args.out, num_train=args.num_train, num_test=args.num_test, seed=args.seed
    )
    print(f"wrote {len(paths)} file(s) to {Path(args.out).resolve()}:")
    for path in paths:
        print(f"  {path.name}")
    print(f"use it with data.path={Path(args.out).resolve()} data.format=litcoin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
