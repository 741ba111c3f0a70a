"""Ensemble relext fold models on a test set, and pool their out-of-fold validation predictions.

    python -m socio_re.cli.ensemble outputs/relext/runs/fold0 ... outputs/relext/runs/fold4
    python -m socio_re.cli.ensemble RUN... --method vote --out outputs/relext/ensemble
    python -m socio_re.cli.ensemble RUN... --data /data/BioRED --split test

Each run directory holds the frozen config and the fold's final model. Every model predicts the
test instances (the runs' own test split, or the ``test`` split of ``--data``); probabilities are
averaged (``--method mean``, default) or the folds vote (``--method vote``). With gold labels the
ensemble is scored. The runs' validation predictions (each fold's held-out abstracts) are pooled
into out-of-fold metrics over all folds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="socio-re-ensemble", description=__doc__.split("\n")[1])
    p.add_argument("runs", nargs="+", type=Path, help="relext run directories (one per fold)")
    p.add_argument("--method", choices=["mean", "vote"], default="mean")
    p.add_argument("--data", default=None, help="corpus to predict instead of the runs' test")
    p.add_argument("--format", default="auto", help="format of --data (auto, litcoin, ...)")
    p.add_argument("--split", default="test", help="split of --data to predict")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: <first run's parent>/ensemble)")
    return p.parse_args(argv)


def ensemble(args: argparse.Namespace) -> dict:
    from socio_re.tasks.relext.fold_ensemble import ensemble_folds
    from socio_re.utils.console import print_summary, setup_logging

    setup_logging()
    metrics, files, out = ensemble_folds(args.runs, method=args.method, data=args.data,
                                         fmt=args.format, split=args.split, out=args.out)
    print_summary(metrics, out, files,
                  f"not logged ({args.method} of {len(args.runs)} fold models)")
    return metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: ensemble(args))


if __name__ == "__main__":
    main()
