"""Fold ensembling of relext runs: every fold model predicts the test instances, the
probabilities (and P(Novel)) are averaged or voted, the result scored and written as a run's
outputs are; the folds' validation predictions pooled out of fold. Used by
``python -m socio_re.cli.ensemble`` and by a finished fold sweep (sweeps/finish.py)."""

from __future__ import annotations

import json
from pathlib import Path

from socio_re.errors import DataError


def _load_runs(runs: list[Path]):
    from socio_re.config.validate import load_run_config

    configs = []
    for run in runs:
        rc = load_run_config(run.resolve())
        if rc.task.name != "relext":
            raise DataError(f"{run} is a {rc.task.name} run; ensemble combines relext folds")
        if not (run / "model" / "pair_classifier.json").exists():
            raise DataError(f"{run}/model holds no trained pair classifier; train that fold")
        configs.append(rc)
    return configs


def _test_instances(rc, data: str | None, fmt: str, split: str
                    ) -> tuple[list, Path | None]:
    """The instances to predict, and the file of their curated relations when known (the
    runs' own test split: for the shared task's scores)."""
    from socio_re.tasks.relext.data.prepared import prepare
    from socio_re.tasks.relext.gold import gold_file

    prepared = prepare(rc.data, rc.paths.cache_dir)
    if data is None:
        gold = gold_file(prepared.directory, "test")
        return prepared.test, (gold if gold.is_file() else None)
    from socio_re.tasks.relext.data.instances import build_instances
    from socio_re.tasks.relext.data.readers import read_corpus

    corpus = read_corpus(data, fmt)
    if split not in corpus:
        raise DataError(f"--split {split}: {data} has only {sorted(corpus)}")
    pairs = prepared.stats.get("type_pairs")
    type_pairs = {frozenset(p.split("|")) for p in pairs} if pairs else None
    instances, _ = build_instances(corpus[split], context=rc.data.context,
                                   type_pairs=type_pairs)
    return instances, None


def ensemble_folds(runs: list[Path], *, method: str = "mean", data: str | None = None,
                   fmt: str = "auto", split: str = "test", out: Path | None = None
                   ) -> tuple[dict, dict, Path]:
    """(metrics, files, output directory): the fold models of ``runs`` predict the test
    instances (the runs' own test split, or ``split`` of the corpus at ``data``), their
    probabilities and novelty averaged (``mean``) or voted; scored when gold labels exist, each
    fold alone beside it, and the runs' validation predictions pooled out of fold."""
    import numpy as np

    from socio_re.models.classifier import SequenceClassifier
    from socio_re.models.load import load_tokenizer
    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.ensemble import ensemble_probabilities, pooled_out_of_fold
    from socio_re.tasks.relext.scoring import instance_frame, predict_probabilities, write_outputs

    runs = [r.resolve() for r in runs]
    configs = _load_runs(runs)
    out = (out or runs[0].parent / "ensemble").resolve()
    out.mkdir(parents=True, exist_ok=True)
    instances, gold = _test_instances(configs[0], data, fmt, split)
    metrics: dict = {}
    files: dict = {}
    if instances:
        probs = []
        for run, rc in zip(runs, configs, strict=True):
            model = SequenceClassifier.load(run / "model")
            tokenizer = load_tokenizer(rc.model, str(run / "model"), require_chat_template=False)
            probs.append(predict_probabilities(model, tokenizer, instances, rc.task, LABELS))
        combined = ensemble_probabilities(probs, method=method)
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
    files["metrics"] = out / "metrics.json"
    return metrics, files, out
