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
import json
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.errors import DataError
from socio_re.evaluation.ensemble import pooled_out_of_fold


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


def _load_runs(runs: list[Path]):
    from socio_re.cli.evaluate import load_run_config

    configs = []
    for run in runs:
        rc = load_run_config(run.resolve())
        if rc.task.name != "relext":
            raise DataError(f"{run} is a {rc.task.name} run; ensemble combines relext folds")
        if not (run / "model" / "pair_classifier.json").exists():
            raise DataError(f"{run}/model holds no trained pair classifier; train that fold")
        configs.append(rc)
    return configs


def _test_instances(rc, args: argparse.Namespace) -> tuple[list, Path | None]:
    """The instances to predict, and the file of their curated relations when known (the
    runs' own test split: for the shared task's scores)."""
    from socio_re.tasks.relext.data import prepare
    from socio_re.tasks.relext.gold import gold_file

    prepared = prepare(rc.data, rc.paths.cache_dir)
    if args.data is None:
        gold = gold_file(prepared.directory, "test")
        return prepared.test, (gold if gold.is_file() else None)
    from socio_re.data.relext.instances import build_instances
    from socio_re.data.relext.readers import read_corpus

    corpus = read_corpus(args.data, args.format)
    if args.split not in corpus:
        raise DataError(f"--split {args.split}: {args.data} has only {sorted(corpus)}")
    pairs = prepared.stats.get("type_pairs")
    type_pairs = {frozenset(p.split("|")) for p in pairs} if pairs else None
    instances, _ = build_instances(corpus[args.split], context=rc.data.context,
                                   type_pairs=type_pairs)
    return instances, None


def ensemble(args: argparse.Namespace) -> dict:
    import numpy as np

    from socio_re.data.relext.documents import LABELS
    from socio_re.evaluation.ensemble import ensemble_probabilities
    from socio_re.models.classifier import PairClassifier
    from socio_re.models.load import load_tokenizer
    from socio_re.tasks.relext.scoring import instance_frame, predict_probabilities, write_outputs
    from socio_re.utils.console import print_summary, setup_logging

    setup_logging()
    runs = [r.resolve() for r in args.runs]
    configs = _load_runs(runs)
    out = (args.out or runs[0].parent / "ensemble").resolve()
    out.mkdir(parents=True, exist_ok=True)
    instances, gold = _test_instances(configs[0], args)
    metrics: dict = {}
    files: dict = {}
    if instances:
        probs = []
        for run, rc in zip(runs, configs, strict=True):
            model = PairClassifier.load(run / "model")
            tokenizer = load_tokenizer(rc.model, str(run / "model"), require_chat_template=False)
            probs.append(predict_probabilities(model, tokenizer, instances, rc.task, LABELS))
        combined = ensemble_probabilities(probs, method=args.method)
        np.save(out / "test_probabilities.npy", combined)
        keys = instance_frame(instances)
        m, files = write_outputs(keys, combined, LABELS, out, prefix="test")
        metrics.update(m)
        if gold is not None:
            from socio_re.tasks.relext.gold import shared_task_metrics

            metrics.update(shared_task_metrics(gold, files["test_submission"], "test"))
        for i, p in enumerate(probs):  # each fold alone, for comparison with the ensemble
            single, _ = write_outputs(keys, p, LABELS, out / f"fold_{i}", prefix="test")
            if "test/micro_f1" in single:
                metrics[f"fold{i}/test/micro_f1"] = single["test/micro_f1"]
    oof_metrics, oof = pooled_out_of_fold(runs, LABELS)
    if oof is not None:
        oof.to_csv(out / "oof_predictions.csv", index=False)
        files["oof_predictions"] = out / "oof_predictions.csv"
    metrics.update(oof_metrics)
    metrics["ensemble/models"] = len(runs)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print_summary(metrics, out, {**files, "metrics": out / "metrics.json"},
                  f"not logged ({args.method} of {len(runs)} fold models)")
    return metrics


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: ensemble(args))


if __name__ == "__main__":
    main()
