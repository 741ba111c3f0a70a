"""Evaluate a trained run (or any checkpoint) without training.

    python -m socio_re.cli.evaluate outputs/socrates/runs/<run>
    python -m socio_re.cli.evaluate outputs/socrates/runs/<run> --checkpoint <dir> --decoding sample

Reads the run's frozen ``config.yaml`` (so data, split and formatting are exactly the run's),
loads the final model (or the given checkpoint), scores the chosen split and writes the tables
and ``eval_metrics.json`` into ``<run>/eval/<name>/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.errors import DataError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="socio-re-evaluate", description=__doc__.split("\n")[1])
    p.add_argument("run_dir", type=Path, help="a run directory (holds config.yaml)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="model or checkpoint directory (default: <run_dir>/model)")
    p.add_argument("--split", choices=["test", "val"], default=None)
    p.add_argument("--decoding", choices=["greedy", "sample", "score"], default=None)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--name", default=None, help="output subfolder name (default: derived)")
    return p.parse_args(argv)


def evaluate(args: argparse.Namespace) -> dict:
    from socio_re.config.validate import load_run_config
    from socio_re.models.load import load_trained
    from socio_re.tasks.socrates.data import prepare_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame
    from socio_re.utils.console import print_summary, setup_logging

    setup_logging()
    run_dir = args.run_dir.resolve()
    rc = load_run_config(run_dir)
    if rc.task.name != "socrates":
        raise DataError(f"{run_dir} is a {rc.task.name} run; this command scores socrates runs")
    e = rc.task.eval
    e.split = args.split or e.split
    e.decoding = args.decoding or e.decoding
    e.max_rows = args.max_rows if args.max_rows is not None else e.max_rows
    e.seed = args.seed if args.seed is not None else e.seed
    model_dir = (args.checkpoint or run_dir / "model").resolve()
    model, tokenizer = load_trained(rc, model_dir)
    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    frame = prepared.sample(e.split, e.max_rows, e.seed)
    name = args.name or f"{model_dir.name}-{e.split}-{e.decoding}"
    out_dir = run_dir / "eval" / name
    metrics, files = evaluate_frame(model, tokenizer, frame, rc.task, out_dir, prefix=e.split)
    (out_dir / "eval_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print_summary(metrics, out_dir, {**files, "metrics": out_dir / "eval_metrics.json"},
                  f"not logged (model: {model_dir})")
    return metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: evaluate(args))


if __name__ == "__main__":
    main()
