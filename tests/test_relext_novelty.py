"""Relation novelty (Novel/No): targets, the joint label space, the novelty head and its loss,
saving and loading, fold ensembling of P(Novel), the output files and the metrics, each checked
against a hand computation; and a trained tiny model against the constant "Novel" baseline."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from socio_re.models.classifier import SequenceClassifier, novelty_loss
from socio_re.tasks.relext.data.documents import LABELS
from socio_re.tasks.relext.data.instances import Instance
from socio_re.tasks.relext.ensemble import (
    PairProbabilities,
    ensemble_probabilities,
    novelty_of,
    pooled_out_of_fold,
    with_novelty,
)
from socio_re.tasks.relext.metrics import relext_metrics
from socio_re.tasks.relext.novelty import (
    IGNORE,
    joint_labels,
    joint_to_type,
    label_id,
    model_labels,
    novelty_target,
    split_joint,
)


def _inst(rtype: str, novel: bool | None) -> Instance:
    return Instance("1", None, "a", "b", rtype, novel, "A x B.", [(0, 1, "ChemicalEntity")],
                    [(4, 5, "ChemicalEntity")])


# --------------------------------------------------------------------------- targets


def test_targets_and_joint_label_space():
    joint = joint_labels(LABELS)
    assert len(joint) == 17 and joint[:5] == (
        "NOT", "Association|Novel", "Association|No", "Positive_Correlation|Novel",
        "Positive_Correlation|No")
    assert model_labels(LABELS, "head") == LABELS == model_labels(LABELS, "none")
    # Bind is type 4 -> joint 7 (Novel) and 8 (No); an unannotated relation counts as Novel.
    assert [label_id(_inst("Bind", v), LABELS, "joint") for v in (True, False, None)] == [7, 8, 7]
    assert label_id(_inst("NOT", None), LABELS, "joint") == 0
    assert label_id(_inst("Bind", False), LABELS, "head") == 4
    assert joint[7] == "Bind|Novel" and joint[8] == "Bind|No"
    assert joint_to_type(np.array([0, 7, 8, 16])).tolist() == [0, 4, 4, 8]
    # The head's target: only gold relations with a novelty annotation take part.
    assert [novelty_target(_inst("Bind", True)), novelty_target(_inst("Bind", False)),
            novelty_target(_inst("Bind", None)), novelty_target(_inst("NOT", None))] == [
        1, 0, IGNORE, IGNORE]


def test_split_joint_by_hand():
    # 17 joint classes; row 0: NOT .2, Association Novel .3 / No .1, Bind Novel .1 / No .3
    #   -> types NOT .2, Association .4, Bind .4; P(Novel | related) = (.3 + .1) / .8 = .5
    # row 1: all on NOT -> no positive mass: p_novel 0.5 (undecided, not NaN)
    probs = np.zeros((2, 17))
    probs[0, [0, 1, 2, 7, 8]] = [0.2, 0.3, 0.1, 0.1, 0.3]
    probs[1, 0] = 1.0
    types, p_novel = split_joint(probs)
    assert types.shape == (2, 9)
    np.testing.assert_allclose(types[0], [0.2, 0.4, 0, 0, 0.4, 0, 0, 0, 0])
    np.testing.assert_allclose(types.sum(axis=1), 1.0)
    np.testing.assert_allclose(p_novel, [0.5, 0.5])
    probs[0, [1, 2]] = [0.4, 0.0]  # Novel .4 + .1 of the positive mass .8
    np.testing.assert_allclose(split_joint(probs)[1][0], 0.5 / 0.8)


# --------------------------------------------------------------------------- the model


def _tiny_backbone():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=32)
    model = BertModel(cfg, add_pooling_layer=False)
    return model


def _batch():
    ids = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 9, 10, 2], [1, 11, 12, 13, 2]])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "a_pos": torch.tensor([1, 1, 1]), "b_pos": torch.tensor([3, 3, 3]),
            "labels": torch.tensor([4, 0, 1])}


def test_novelty_head_loss_counts_gold_relations_only():
    model = SequenceClassifier(_tiny_backbone(), 9, "entity_start", novelty="head",
                           novelty_loss_weight=0.5).eval()
    assert model.head[-1].out_features == 10  # 9 classes + the novelty logit
    batch = _batch()
    out = model(**batch, novelty=torch.tensor([0, IGNORE, 1]))
    assert out.logits.shape == (3, 9) and out.novelty_logits.shape == (3,)
    ce = torch.nn.functional.cross_entropy(out.logits, batch["labels"])
    z = out.novelty_logits
    # BCE over rows 0 (No) and 2 (Novel); row 1 (a NOT pair) takes no part
    bce = (-torch.log(1 - torch.sigmoid(z[0])) - torch.log(torch.sigmoid(z[2]))) / 2
    assert out.loss.item() == pytest.approx((ce + 0.5 * bce).item(), rel=1e-5)
    # The NOT row's novelty target changes nothing; without targets the loss is the CE alone
    other = model(**batch, novelty=torch.tensor([0, 1, 1]))
    assert other.loss.item() != pytest.approx(out.loss.item())  # row 1 now counts
    same = model(**batch, novelty=torch.tensor([0, IGNORE, 1]))
    assert same.loss.item() == pytest.approx(out.loss.item())
    assert model(**batch).loss.item() == pytest.approx(ce.item(), rel=1e-5)
    none = novelty_loss(z, torch.tensor([IGNORE, IGNORE, IGNORE]))
    assert none.item() == 0.0 and none.requires_grad


@pytest.mark.parametrize("mode", ["head", "joint", None])
def test_saved_model_predicts_the_same_novelty_after_loading(tmp_path, monkeypatch, mode):
    from socio_re.tasks.relext.scoring import predict_probabilities

    n = 17 if mode == "joint" else 9
    model = SequenceClassifier(_tiny_backbone(), n, "entity_start", novelty=mode).eval()
    model.save(tmp_path / "m", labels=list(model_labels(LABELS, mode or "none")))
    meta = json.loads((tmp_path / "m" / "pair_classifier.json").read_text())
    assert meta["novelty"] == mode and meta["num_labels"] == n
    loaded = SequenceClassifier.load(tmp_path / "m").eval()
    assert loaded.novelty == mode
    batch = _batch()
    a, b = model(**batch), loaded(**batch)
    torch.testing.assert_close(a.logits, b.logits)
    if mode == "head":
        torch.testing.assert_close(a.novelty_logits, b.novelty_logits)

    # predict_probabilities on this batch: its encoding step hands over the batch as it is
    import socio_re.tasks.relext.encode as enc
    from socio_re.tasks.relext.config import RelextTaskConfig

    cols = {k: v.tolist() for k, v in batch.items()}
    monkeypatch.setattr(enc, "encode", lambda *a, **k: (cols, {}))
    tokenizer = type("Tok", (), {"pad_token_id": 0})()
    task = RelextTaskConfig()
    task.eval.batch_size = 2  # two batches
    probs = predict_probabilities(loaded, tokenizer, [None] * 3, task, LABELS)
    assert probs.shape == (3, 9)
    np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-6)
    if mode is None:
        assert novelty_of(probs) is None
        return
    soft = torch.softmax(b.logits.float(), dim=-1).detach().numpy()
    if mode == "head":
        expected = torch.sigmoid(b.novelty_logits).detach().numpy()
        np.testing.assert_allclose(np.asarray(probs), soft, rtol=1e-5)
    else:
        expected = soft[:, 1::2].sum(axis=1) / soft[:, 1:].sum(axis=1)
    np.testing.assert_allclose(novelty_of(probs), expected, rtol=1e-5)


def test_model_saved_before_novelty_loads_without_it(tmp_path):
    model = SequenceClassifier(_tiny_backbone(), 9, "cls")
    model.save(tmp_path / "m", labels=list(LABELS))
    meta_path = tmp_path / "m" / "pair_classifier.json"
    meta = json.loads(meta_path.read_text())
    del meta["novelty"]
    meta_path.write_text(json.dumps(meta))
    loaded = SequenceClassifier.load(tmp_path / "m")
    assert loaded.novelty is None and loaded.head[-1].out_features == 9


# --------------------------------------------------------------------------- ensembling


def test_ensemble_averages_novelty_probabilities():
    a = with_novelty(np.array([[0.6, 0.4], [0.2, 0.8]]), np.array([0.9, 0.2]))
    b = with_novelty(np.array([[0.2, 0.8], [0.4, 0.6]]), np.array([0.3, 0.6]))
    c = with_novelty(np.array([[0.1, 0.9], [0.3, 0.7]]), np.array([0.0, 0.7]))
    mean = ensemble_probabilities([a, b, c])
    assert isinstance(mean, PairProbabilities)
    # (0.9 + 0.3 + 0.0) / 3 = 0.4; (0.2 + 0.6 + 0.7) / 3 = 0.5
    np.testing.assert_allclose(novelty_of(mean), [0.4, 0.5])
    np.testing.assert_allclose(mean, [[0.3, 0.7], [0.3, 0.7]])
    np.testing.assert_allclose(novelty_of(ensemble_probabilities([a, b, c], "vote")), [0.4, 0.5])
    # One model without novelty: the ensemble has none (never a silent partial average)
    assert novelty_of(ensemble_probabilities([a, np.array([[0.5, 0.5], [0.5, 0.5]])])) is None
    # Derived arrays do not inherit it; np.save writes a plain array
    assert novelty_of(mean[:1]) is None and novelty_of(mean * 2) is None
    with pytest.raises(ValueError, match="one value per row"):
        with_novelty(np.zeros((2, 2)), np.zeros(3))


# --------------------------------------------------------------------------- outputs, metrics


def test_write_outputs_carries_predicted_novelty(tmp_path):
    from socio_re.tasks.relext.scoring import write_outputs

    keys = pd.DataFrame({
        "abstract_id": ["10", "10", "10", "11", "11"],
        "entity_a_id": ["D1", "D1", "D2", "G1", "G2"],
        "entity_b_id": ["D2", "D3", "D3", "G2", "G3"],
        "type": ["Association", "Bind", "NOT", "Bind", "Association"],
        "novel": [True, False, None, False, True],
    })
    probs = np.zeros((5, len(LABELS)))
    for row, label in enumerate(["Association", "Bind", "NOT", "Bind", "NOT"]):
        probs[row, LABELS.index(label)] = 1.0
    p_novel = np.array([0.8, 0.3, 0.9, 0.6, 0.1])
    metrics, files = write_outputs(keys, with_novelty(probs, p_novel), LABELS, tmp_path, "test")
    preds = pd.read_csv(files["test_predictions"])
    np.testing.assert_allclose(preds["p_novel"], p_novel)
    assert preds["pred_novel"].tolist() == [True, False, True, True, False]
    sub = pd.read_csv(files["test_submission"], sep="\t")
    assert sub[["entity_1_id", "novel"]].values.tolist() == [["D1", "Novel"], ["D1", "No"],
                                                              ["G1", "Novel"]]
    lines = files["test_pubtator"].read_text().splitlines()
    assert [line.split("\t")[-1] for line in lines] == ["Novel", "No", "Novel"]
    # Gold relations 4 (rows 0, 1, 3, 4); predicted 3 (rows 0, 1, 3), all with the right type.
    # Novelty right at rows 0 (Novel) and 1 (No), wrong at row 3 -> TP 2:
    #   P 2/3, R 2/4, F1 = 4/7.  All-"Novel": right at row 0 only -> F1 = 2/7.
    # Detected relations 0, 1, 3: accuracy 2/3, all-"Novel" 1/3.
    assert metrics["test/novelty_f1"] == pytest.approx(4 / 7)
    assert metrics["test/novelty_f1_all_novel"] == pytest.approx(2 / 7)
    assert metrics["test/novelty_accuracy"] == pytest.approx(2 / 3)
    assert metrics["test/novelty_accuracy_all_novel"] == pytest.approx(1 / 3)
    assert metrics["test/micro_f1"] == pytest.approx(6 / 7)


def test_predictions_without_novelty_stay_all_novel(tmp_path):
    from socio_re.tasks.relext.scoring import write_outputs

    keys = pd.DataFrame({"abstract_id": ["1"], "entity_a_id": ["a"], "entity_b_id": ["b"],
                         "type": ["Bind"], "novel": [False]})
    probs = np.zeros((1, len(LABELS)))
    probs[0, LABELS.index("Bind")] = 1.0
    metrics, files = write_outputs(keys, probs, LABELS, tmp_path, "test")
    assert "p_novel" not in pd.read_csv(files["test_predictions"]).columns
    assert files["test_pubtator"].read_text().split("\t")[-1].strip() == "Novel"
    assert metrics["test/novelty_f1"] == metrics["test/novelty_f1_all_novel"] == 0.0


def test_novelty_baseline_and_accuracy_by_hand():
    # The cases of test_relext_metrics.test_novelty_f1_by_hand (i5: unknown gold novelty,
    # dropped). Right type: i0 (gold Novel), i1 (No), i3 (Novel).
    gold = [1, 1, 1, 2, 2, 3, 0, 0, 0, 0, 4]
    pred = [1, 1, 2, 2, 0, 3, 0, 1, 0, 0, 0]
    t, f = True, False
    gold_novel = [t, f, t, t, f, None, None, None, None, None, t]
    pred_novel = [t, f, f, t, None, t, None, f, None, None, None]
    m = relext_metrics(gold, pred, gold_novel=gold_novel, pred_novel=pred_novel)
    # Ours: i0, i1, i3 right -> TP 3 of 5 predicted, 6 gold: F1 = 6/11.
    # All "Novel": i0, i3 -> TP 2: F1 = 4/11.
    assert m["novelty_f1"] == pytest.approx(6 / 11)
    assert m["novelty_f1_all_novel"] == pytest.approx(4 / 11)
    # Detected gold relations: i0, i1, i2, i3. Right novelty: i0, i1, i3 -> 3/4; Novel: i0,
    # i2, i3 -> 3/4.
    assert m["novelty_accuracy"] == pytest.approx(3 / 4)
    assert m["novelty_accuracy_all_novel"] == pytest.approx(3 / 4)


def test_pooled_out_of_fold_scores_novelty(tmp_path):
    """Read back from the CSV files the runs write (bools with empty cells for NOT rows)."""
    rows = [
        # gold, pred, gold_novel, pred_novel
        ("Bind", "Bind", True, True), ("Bind", "Bind", False, False),
        ("NOT", "NOT", None, True), ("Association", "Association", False, True),
    ]
    for k, part in enumerate((rows[:2], rows[2:])):
        run = tmp_path / f"fold={k}"
        run.mkdir()
        keys = pd.DataFrame({"abstract_id": [str(k)] * len(part),
                             "entity_a_id": [f"a{i}" for i in range(len(part))],
                             "entity_b_id": ["b"] * len(part)})
        pd.DataFrame({**keys, "gold_label": [r[0] for r in part],
                      "pred_label": [r[1] for r in part], "gold_novel": [r[2] for r in part],
                      "pred_novel": [r[3] for r in part]}).to_csv(run / "val_predictions.csv",
                                                                  index=False)
    m, oof = pooled_out_of_fold(sorted(tmp_path.glob("fold=*")), LABELS)
    # 3 relations, all typed right; novelty right on 2 -> F1 2/3; all "Novel": 1 -> 1/3
    assert m["oof/micro_f1"] == 1.0 and m["oof/folds"] == 2
    assert m["oof/novelty_f1"] == pytest.approx(2 / 3)
    assert m["oof/novelty_f1_all_novel"] == pytest.approx(1 / 3)
    assert len(oof) == 4 and not math.isnan(m["oof/novelty_accuracy"])


# --------------------------------------------------------------------------- trained


@pytest.mark.slow
def test_trained_tiny_model_beats_the_constant_novel_baseline(tmp_path):
    """The sample's cue ("Previous studies have shown that ...": No) reaches the input text,
    and a tiny encoder with the novelty head learns it in 300 steps (about 30 s on 2 cores):
    over validation and test its novelty F1 is above the one every-relation-"Novel" would get
    with the same predicted types, and its novelty is right more often on the relations it
    finds, on each split."""
    from conftest import run_train

    run = tmp_path / "run"
    out = run_train(["task=relext", "model=tiny-encoder", "trainer.max_steps=300",
                     "trainer.eval_steps=100", "trainer.save_steps=100",
                     "trainer.learning_rate=3e-3", "data.negative_ratio=1", "tracking=none",
                     f"hydra.run.dir={run}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    # Novelty accuracy (on the relations found, whatever their type) isolates what the head
    # learned: well above the Novel share on both splits. The novelty F1 also needs the type
    # right, so on the few right-typed relations of a 300-step tiny model its margin on one split
    # is small (a tie on val at the default seed): it is asserted over both splits together.
    # Measured (builds are byte-identical, so these are the code's numbers, not a cache's), at
    # seeds 42 (the default, the one this test runs), 1, 2 and 3: accuracy margin 0.19-0.21
    # (val) and 0.19-0.26 (test); F1 margin 0.000 / 0.036 / 0.036 / 0.047 (val), 0.064 / 0.030 /
    # 0.066 / 0.048 (test), 0.064-0.102 over both.
    for split in ("val", "test"):
        assert m[f"{split}/novelty_accuracy"] >= m[f"{split}/novelty_accuracy_all_novel"] + 0.1
    gain = sum(m[f"{split}/novelty_f1"] - m[f"{split}/novelty_f1_all_novel"]
               for split in ("val", "test"))
    assert gain >= 0.03, m
    sub = pd.read_csv(run / "test_litcoin_submission.tsv", sep="\t")
    assert {"Novel", "No"} <= set(sub["novel"])
