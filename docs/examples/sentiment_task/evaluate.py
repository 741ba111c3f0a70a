"""``python -m socio_re.cli.evaluate RUN [--split test] [--max-rows N]`` for a sentiment run:
the run's saved model scored on a split, into ``RUN/eval/<split>.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str]) -> None:
    from socio_re.config.validate import load_run_config
    from socio_re.models.classifier import SequenceClassifier
    from socio_re.models.load import load_tokenizer

    from .data import prepare
    from .run import score

    p = argparse.ArgumentParser(prog="python -m socio_re.cli.evaluate")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--split", choices=["val", "test"], default="test")
    p.add_argument("--max-rows", type=int, default=None)
    args = p.parse_args(argv)
    rc = load_run_config(args.run_dir.resolve())
    rc.task.eval.max_rows = args.max_rows or rc.task.eval.max_rows
    model_dir = args.run_dir / "model"
    model = SequenceClassifier.load(model_dir)
    tokenizer = load_tokenizer(rc.model, str(model_dir), require_chat_template=False)
    value = score(model, tokenizer, prepare(rc.data)[args.split], rc.task)
    out = args.run_dir / "eval" / f"{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({f"{args.split}/accuracy": value}, indent=1) + "\n")
    print(f"{args.split}/accuracy = {value:.4f}  ({out})")
