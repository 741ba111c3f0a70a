"""relext through the real commands: a fold run, LoRA on a decoder with new marker rows, the
five-fold sweep machinery (two folds) through submitit, the ensemble, and real-format inputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import compose, run_module, run_train

from socio_re.config.validate import validate_config
from socio_re.tasks.relext.data.documents import LABELS

pytestmark = pytest.mark.slow

SHORT = ["trainer.max_steps=30", "trainer.logging_steps=5", "trainer.eval_steps=15",
         "trainer.save_steps=15", "trainer.learning_rate=1e-3", "task.eval.max_rows=80"]


@pytest.fixture(scope="module")
def fold_sweep(tmp_path_factory):
    """python train.py -m task=relext fold=0,1 (tiny encoder) logging to an ``mlflow server``
    on 127.0.0.1 (a remote store, REST), then the ensemble command."""
    import os

    from mlflow_server import mlflow_server

    work = tmp_path_factory.mktemp("sweep")
    with mlflow_server(work) as uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri
        out = run_train(["-m", "task=relext", "model=tiny-encoder", "fold=0,1", *SHORT,
                         f"hydra.sweep.dir={work / 'multirun'}"], work)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        runs = [work / "multirun" / "fold=0", work / "multirun" / "fold=1"]
        ens = run_module("socio_re.cli.ensemble", [*map(str, runs), "--out", str(work / "ens")],
                         work)
        assert ens.returncode == 0, ens.stderr[-3000:]
        yield {"work": work, "runs": runs, "uri": uri, "stdout": out.stdout}


def test_fold_runs_write_metrics_and_outputs(fold_sweep):
    for run in fold_sweep["runs"]:
        metrics = json.loads((run / "metrics.json").read_text())
        for name in ("val/micro_f1", "val/macro_f1", "test/micro_f1", "test/macro_f1"):
            assert 0.0 <= metrics[name] <= 1.0
        assert metrics["train/last_loss"] < metrics["train/first_loss"]
        preds = pd.read_csv(run / "test_predictions.csv")
        assert {"abstract_id", "entity_a_id", "entity_b_id", "pred_label", "gold_label",
                "p_NOT", "p_Bind", "gold_novel", "p_novel", "pred_novel"} <= set(preds.columns)
        assert preds[[f"p_{label}" for label in LABELS]].sum(axis=1).round(4).eq(1).all()
        assert preds["pred_novel"].equals(preds["p_novel"] >= 0.5)
        sub = pd.read_csv(run / "test_litcoin_submission.tsv", sep="\t")
        assert list(sub.columns) == ["id", "abstract_id", "type", "entity_1_id", "entity_2_id",
                                     "novel"]
        assert "NOT" not in set(sub["type"])
        related = preds[preds["pred_label"] != "NOT"]
        assert len(sub) == len(related)
        # The novelty written is the one predicted, relation for relation
        key = ["abstract_id", "entity_1_id", "entity_2_id"]
        written = sub.astype({k: str for k in key}).set_index(key)["novel"]
        for pair in related.itertuples():
            expected = "Novel" if pair.pred_novel else "No"
            assert written[(str(pair.abstract_id), str(pair.entity_a_id),
                            str(pair.entity_b_id))] == expected
        lines = (run / "test_relations.pubtator").read_text().splitlines()
        assert [line.split("\t")[-1] for line in lines] == sub["novel"].tolist()
        for line in lines:
            assert len(line.split("\t")) == 5
        for name in ("test/novelty_f1", "test/novelty_f1_all_novel", "val/novelty_accuracy"):
            assert 0.0 <= metrics[name] <= 1.0
        assert json.loads((run / "model" / "pair_classifier.json").read_text())["novelty"] == \
            "head"
        assert (run / "test_confusion.png").read_bytes()[:4] == b"\x89PNG"
        per_class = pd.read_csv(run / "test_per_class.csv")
        assert "support" in per_class.columns
        stats = json.loads((run / "data_stats.json").read_text())
        assert stats["build"]["train"]["cross_sentence_share"] > 0


def test_folds_are_disjoint_in_the_runs(fold_sweep):
    val = [set(pd.read_csv(r / "val_predictions.csv")["abstract_id"]) for r in fold_sweep["runs"]]
    assert val[0] and val[1] and not (val[0] & val[1])


def test_fold_sweep_is_a_parent_run_with_a_child_per_fold_and_the_cv_aggregate(fold_sweep):
    """Read back through the REST API of the server the sweep logged to."""
    import statistics

    from mlflow_server import rest

    uri = fold_sweep["uri"]
    exp = rest(uri, "experiments/get-by-name", {"experiment_name": "relext"}, get=True)
    exp_id = exp["experiment"]["experiment_id"]
    runs = rest(uri, "runs/search", {"experiment_ids": [exp_id], "max_results": 50})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [(r, t) for r, t in zip(runs, tags, strict=True)
               if t.get("socio_re.sweep_parent") == "true"]
    children = [(r, t) for r, t in zip(runs, tags, strict=True)
                if t.get("mlflow.parentRunId")]
    assert len(parents) == 1 and len(children) == 2
    parent, ptags = parents[0]
    assert ptags["sweep_id"] == "relext/multirun" and parent["info"]["status"] == "FINISHED"
    assert sorted(t["fold"] for _, t in children) == ["0", "1"]
    for run, t in children:
        assert t["mlflow.parentRunId"] == parent["info"]["run_id"]
        assert t["sweep_id"] == ptags["sweep_id"] and t["job_num"] in ("0", "1")
        assert f"fold={t['fold']}" in t["overrides"].split() and t["git_commit"]
        assert t["strategy"] == "single" and t["model"] == "tiny-encoder"
        assert run["info"]["status"] == "FINISHED"
        # A name that says what ran, not a timestamp; and the engine that really ran.
        assert t["mlflow.runName"].startswith(f"relext·tiny-encoder·single·fold={t['fold']}·")
        assert t["engine.engine"] == "single" and t["engine.world_size"] == "1"
    # Params: the flattened resolved config.
    params = {p["key"]: p["value"] for p in children[0][0]["data"]["params"]}
    assert params["trainer.max_steps"] == "30" and params["task.name"] == "relext"
    # The aggregate on the parent: mean and sample std over folds, and pooled out-of-fold.
    fold_f1 = [json.loads((r / "metrics.json").read_text())["val/micro_f1"]
               for r in fold_sweep["runs"]]
    pm = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
    assert pm["cv/val/micro_f1/mean"] == pytest.approx(statistics.mean(fold_f1))
    assert pm["cv/val/micro_f1/std"] == pytest.approx(statistics.stdev(fold_f1))
    ens = json.loads((fold_sweep["work"] / "ens" / "metrics.json").read_text())
    assert pm["oof/micro_f1"] == pytest.approx(ens["oof/micro_f1"])
    assert "2 completed" in fold_sweep["stdout"]


def test_aggregate_command_rebuilds_the_parent_from_tags_alone(fold_sweep, tmp_path):
    """As if the launching process had died: no sweep.json, no parent run id to go on."""
    import mlflow

    client = mlflow.MlflowClient(fold_sweep["uri"])
    exp = client.get_experiment_by_name("relext")
    out = run_module("socio_re.cli.aggregate", ["relext/multirun", "--tracking-uri",
                                                fold_sweep["uri"]], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "val/micro_f1" in out.stdout and "oof/micro_f1" in out.stdout
    parent = client.search_runs([exp.experiment_id], filter_string=(
        "tags.sweep_id = 'relext/multirun' and tags.`socio_re.sweep_parent` = 'true'"))
    assert len(parent) == 1  # found again by its tags, not duplicated
    assert parent[0].data.metrics["cv/n_jobs"] == 2


def test_shared_task_scores_of_a_run_equal_the_scoring_command_on_its_files(fold_sweep):
    """The run's shared_task metrics are the scoring command's numbers on the submission file
    the run wrote, against the curated relations of the split's abstracts (all of them: also
    pairs no instance carries, and pairs max_rows left unpredicted)."""
    from socio_re.tasks.relext.shared_task import (
        SETTINGS,
        records_from_predictions,
        shared_task_scores,
    )

    run = fold_sweep["runs"][0]
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("val", "test"):
        gold, sub = run / f"{split}_gold_relations.tsv", run / f"{split}_litcoin_submission.tsv"
        out = run_module("socio_re.cli.score_relext", ["--gold", str(gold), "--pred", str(sub),
                                                       "--json"], run)
        assert out.returncode == 0, out.stderr
        scores = json.loads(out.stdout)
        for setting in SETTINGS:
            for stat in ("precision", "recall", "f1"):
                assert metrics[f"{split}/shared_task/{setting}_{stat}"] == \
                    pytest.approx(scores[f"{setting}_{stat}"])
        # Independently: the predictions CSV against the gold rows, read by pandas.
        gold_df = pd.read_csv(gold, sep="\t", dtype=str, keep_default_na=False)
        preds = pd.read_csv(run / f"{split}_predictions.csv", dtype={"abstract_id": str,
                                                                    "entity_a_id": str,
                                                                    "entity_b_id": str})
        gold_pairs = {(r.abstract_id, frozenset((r.entity_1_id, r.entity_2_id)), r.type)
                      for r in gold_df.itertuples()}
        pred_pairs = {(str(r.doc_id), frozenset((r.id1, r.id2)), r.type)
                      for r in records_from_predictions(preds)}
        tp = len(gold_pairs & pred_pairs)
        expected_recall = tp / len(gold_pairs) if gold_pairs else 0.0
        assert metrics[f"{split}/shared_task/pair_type_recall"] == pytest.approx(expected_recall)
        # Every curated relation of the split is in its gold, more than the instances hold
        # when max_rows capped them.
        assert len(gold_df) >= (preds["gold_label"] != "NOT").sum()
    ens = json.loads((fold_sweep["work"] / "ens" / "metrics.json").read_text())
    assert 0.0 <= ens["test/shared_task/pair_type_novelty_f1"] <= 1.0
    assert shared_task_scores([], [])["entity_pair_f1"] == 0.0


def test_ensemble_scores_the_mean_of_two_folds_and_pools_out_of_fold(fold_sweep):
    ens = fold_sweep["work"] / "ens"
    metrics = json.loads((ens / "metrics.json").read_text())
    assert metrics["ensemble/models"] == 2 and metrics["oof/folds"] == 2
    for key in ("test/micro_f1", "oof/micro_f1", "fold0/test/micro_f1", "fold1/test/micro_f1"):
        assert 0.0 <= metrics[key] <= 1.0
    import numpy as np

    probs = np.load(ens / "test_probabilities.npy")
    columns = [f"p_{label}" for label in LABELS]
    folds = [pd.read_csv(ens / f"fold_{k}" / "test_predictions.csv") for k in (0, 1)]
    assert np.allclose(probs, (folds[0][columns].to_numpy() + folds[1][columns].to_numpy()) / 2,
                       atol=1e-5)
    # Novelty too: the ensemble's P(Novel) is the mean of the folds', and decides its files
    preds = pd.read_csv(ens / "test_predictions.csv")
    assert np.allclose(preds["p_novel"], (folds[0]["p_novel"] + folds[1]["p_novel"]) / 2,
                       atol=1e-6)
    assert preds["pred_novel"].equals(preds["p_novel"] >= 0.5)
    related = preds[preds["pred_label"] != "NOT"]
    sub = pd.read_csv(ens / "test_litcoin_submission.tsv", sep="\t")
    assert sorted(sub["novel"]) == sorted(np.where(related["pred_novel"], "Novel", "No"))
    assert 0.0 <= metrics["test/novelty_f1"] <= 1.0 and "oof/novelty_f1_all_novel" in metrics
    oof = pd.read_csv(ens / "oof_predictions.csv")
    assert len(oof) == sum(len(pd.read_csv(r / "val_predictions.csv"))
                           for r in fold_sweep["runs"])


def test_pubtator_directory_and_split_files_need_no_code_change(tmp_path, fold_sweep):
    from socio_re.tasks.relext.data.readers import write_pubtator
    from socio_re.tasks.relext.data.sample import generate_litcoin_documents

    docs = generate_litcoin_documents(num_train=40, num_test=10, seed=5)
    biored = tmp_path / "BioRED"
    biored.mkdir()
    write_pubtator(docs["train"][:30], biored / "Train.PubTator")
    write_pubtator(docs["train"][30:], biored / "Dev.PubTator")
    write_pubtator(docs["test"], biored / "Test.PubTator")
    out = run_train(["task=relext", "data=biored", f"data.path={biored}", "model=tiny-encoder",
                     "debug=smoke", "tracking=none", f"hydra.run.dir={tmp_path / 'b'}"],
                    tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test/micro_f1" in json.loads((tmp_path / "b" / "metrics.json").read_text())

    # The prepared data of a run is the reference pipeline's split_k.json layout: read it back.
    prepared = json.loads((fold_sweep["runs"][0] / "data_stats.json").read_text())
    out = run_train(["task=relext", "data=relext-splits", f"data.path={prepared['prepared_dir']}",
                     "model=tiny-encoder", "debug=smoke", "fold=2", "tracking=none",
                     f"hydra.run.dir={tmp_path / 's'}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]


def test_decoder_lora_run_trains_head_and_marker_rows(tmp_path):
    out = run_train(["experiment=relext_lora", "model=tiny-decoder",
                     "task.transform=typed_entity_marker", "trainer.gradient_checkpointing=false",
                     *SHORT, "tracking=none", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/last_loss"] < metrics["train/first_loss"]
    meta = json.loads((tmp_path / "run" / "model" / "pair_classifier.json").read_text())
    assert meta["pooling"] == "entity_start"


def test_marker_rows_and_head_train_under_lora(cache_dir):
    """One optimizer step: new marker embedding rows and the head change, old rows do not."""
    import torch

    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.model import build_classifier, unwrap_for_saving

    rc = validate_config(compose(["experiment=relext_lora", "model=tiny-decoder",
                                  "task.transform=typed_entity_marker",
                                  f"paths.cache_dir={cache_dir}"]))
    model, tok, pooling = build_classifier(rc, LABELS)
    new_ids = tok.convert_tokens_to_ids(["[SUBJ-ChemicalEntity]", "[OBJ-CellLine]"])
    old_id = tok.convert_tokens_to_ids("the") if "the" in tok.get_vocab() else 5
    before = unwrap_for_saving_copy(model)
    ids = torch.tensor([[new_ids[0], 7, 8, new_ids[1], 9, 10]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "labels": torch.tensor([3]), "a_pos": torch.tensor([0]), "b_pos": torch.tensor([3])}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    model(**batch).loss.backward()
    opt.step()
    after = unwrap_for_saving(model)
    emb_after = after.get_input_embeddings().weight.detach()
    assert not torch.allclose(emb_after[new_ids], before["emb"][new_ids])
    assert torch.allclose(emb_after[old_id], before["emb"][old_id])
    assert not torch.allclose(after.head[0].weight, before["head"])
    assert pooling == "entity_start"


def unwrap_for_saving_copy(peft_model):
    """Embedding and head weights as they are now, without merging the live model."""
    import copy

    from socio_re.tasks.relext.model import unwrap_for_saving

    plain = unwrap_for_saving(copy.deepcopy(peft_model))
    return {"emb": plain.get_input_embeddings().weight.detach().clone(),
            "head": plain.head[0].weight.detach().clone()}


def test_preempted_lora_fold_resumes_with_its_head_and_marker_rows(tmp_path):
    run_dir = tmp_path / "run"
    args = ["experiment=relext_lora", "model=tiny-decoder", "task.transform=typed_entity_marker",
            "trainer.gradient_checkpointing=false", "debug=preempt", "tracking=none",
            f"hydra.run.dir={run_dir}"]
    first = run_train(args, tmp_path)
    assert first.returncode == 3, first.stderr[-3000:]
    adapter = run_dir / "checkpoints" / "checkpoint-4" / "adapter_model.safetensors"
    assert adapter.exists()
    from safetensors import safe_open

    with safe_open(str(adapter), "pt") as f:
        keys = list(f.keys())
    # The checkpoint carries what LoRA alone would lose: the head and the new marker rows.
    assert any("head" in k for k in keys) and any("trainable_tokens" in k for k in keys), keys
    second = run_train([*args, "trainer.stop_at_step=null"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in (run_dir / "run.log").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["train/global_step"] == 8
