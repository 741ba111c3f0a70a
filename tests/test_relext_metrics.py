"""Relation-extraction metrics, ensembling and output files, checked against hand arithmetic."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from socio_re.tasks.relext.data.documents import LABELS
from socio_re.tasks.relext.ensemble import align_predictions, ensemble_probabilities
from socio_re.tasks.relext.metrics import confusion, per_class_table, plot_confusion, relext_metrics
from socio_re.tasks.relext.outputs import (
    predictions_frame,
    write_litcoin_submission,
    write_pubtator_relations,
)

# Class indices: 0 NOT, 1 Association (A), 2 Positive_Correlation (P),
# 3 Negative_Correlation (N), 4 Bind (B).
#
# i   gold  pred  outcome
# 0   A     A     TP(A)
# 1   A     A     TP(A)
# 2   A     P     wrong positive type: FP(P) and FN(A)
# 3   P     P     TP(P)
# 4   P     NOT   FN(P)
# 5   N     N     TP(N)
# 6   NOT   NOT   TN
# 7   NOT   A     positive predicted on a NOT pair: FP(A)
# 8   NOT   NOT   TN
# 9   NOT   NOT   TN
# 10  B     NOT   FN(B)
#
# Confusion (rows gold, columns predicted; only non-empty rows/columns shown):
#          NOT  A  P  N
#   NOT     3   1  0  0
#   A       0   2  1  0
#   P       1   0  1  0
#   N       0   0  0  1
#   B       1   0  0  0
#
# Micro over positives: TP = 4 (i0, i1, i3, i5); predicted positive = 6 (i0, i1, i2, i3, i5,
# i7) -> FP = 2; gold positive = 7 (i0..i5, i10) -> FN = 3.
#   P = 4/6 = 2/3, R = 4/7, F1 = 2*4 / (6 + 7) = 8/13.
# Accuracy: correct = i0, i1, i3, i5, i6, i8, i9 = 7 of 11.
GOLD = [1, 1, 1, 2, 2, 3, 0, 0, 0, 0, 4]
PRED = [1, 1, 2, 2, 0, 3, 0, 1, 0, 0, 0]


def test_micro_scores_by_hand():
    m = relext_metrics(GOLD, PRED)
    assert m["micro_precision"] == pytest.approx(2 / 3)
    assert m["micro_recall"] == pytest.approx(4 / 7)
    assert m["micro_f1"] == pytest.approx(8 / 13)
    assert m["accuracy"] == pytest.approx(7 / 11)
    assert m["n"] == 11


def test_label_strings_give_the_same_scores():
    as_str = relext_metrics([LABELS[i] for i in GOLD], [LABELS[i] for i in PRED])
    assert as_str == relext_metrics(GOLD, PRED)


def test_macro_f1_by_hand():
    # Per-class (TP, predicted, support) -> F1 = 2TP / (predicted + support):
    #   A: (2, 3, 3) -> 4/6 = 2/3     P: (1, 2, 2) -> 2/4 = 1/2
    #   N: (1, 1, 1) -> 1             B: (0, 0, 1) -> 0
    # The other 4 positive classes are neither gold nor predicted: left out.
    # macro = (2/3 + 1/2 + 1 + 0) / 4 = (13/6) / 4 = 13/24
    assert relext_metrics(GOLD, PRED)["macro_f1"] == pytest.approx(13 / 24)


def test_pair_scores_by_hand():
    # Detected regardless of type: pred != NOT and gold != NOT at i0, i1, i2, i3, i5 -> 5.
    # P = 5/6, R = 5/7, F1 = 10/13.
    m = relext_metrics(GOLD, PRED)
    assert m["pair_precision"] == pytest.approx(5 / 6)
    assert m["pair_recall"] == pytest.approx(5 / 7)
    assert m["pair_f1"] == pytest.approx(10 / 13)


def test_novelty_f1_by_hand():
    t, f = True, False
    gold_novel = [t, f, t, t, f, None, None, None, None, None, t]
    pred_novel = [t, t, f, t, None, t, None, f, None, None, None]
    # i5 is a gold relation of unknown novelty: dropped. Gold-NOT rows stay (i7 stays an FP).
    # Type and novelty both right: i0 (A, Novel/Novel), i3 (P, Novel/Novel) -> TP = 2;
    # i1 has the type but the wrong novelty.
    # predicted positive among kept = i0, i1, i2, i3, i7 = 5; gold positive kept = i0..i4, i10 = 6
    # P = 2/5, R = 2/6, F1 = 2*2 / (5 + 6) = 4/11
    m = relext_metrics(GOLD, PRED, gold_novel=gold_novel, pred_novel=pred_novel)
    assert m["novelty_precision"] == pytest.approx(2 / 5)
    assert m["novelty_recall"] == pytest.approx(1 / 3)
    assert m["novelty_f1"] == pytest.approx(4 / 11)
    # The constant baseline (every predicted relation Novel): i0 and i3 right -> also 4/11.
    assert m["novelty_f1_all_novel"] == pytest.approx(4 / 11)
    assert "novelty_f1" not in relext_metrics(GOLD, PRED)
    with pytest.raises(ValueError, match="both"):
        relext_metrics(GOLD, PRED, gold_novel=gold_novel)


def test_gold_not_mask_trap():
    # A model that predicts Association for every pair. Gold: 2 Association, 3 NOT.
    gold = [1, 1, 0, 0, 0]
    pred = [1, 1, 1, 1, 1]
    # Ours: TP = 2, predicted positive = 5 -> precision 2/5; recall 2/2.
    ours = relext_metrics(gold, pred)
    assert ours["micro_precision"] == pytest.approx(2 / 5)
    assert ours["micro_recall"] == 1.0
    # The trap: keep only gold != NOT rows -> the 3 false positives vanish, precision 2/2.
    keep = np.asarray(gold) != 0
    trap = relext_metrics(np.asarray(gold)[keep], np.asarray(pred)[keep])
    assert trap["micro_precision"] == 1.0
    assert ours["micro_precision"] < trap["micro_precision"]


def test_all_not_predictions_score_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = relext_metrics([1, 2, 0], [0, 0, 0], gold_novel=[True, False, None],
                           pred_novel=[None, None, None])
        empty = relext_metrics([], [])
        table = per_class_table([1, 2, 0], [0, 0, 0])
    for key in ("micro_precision", "micro_recall", "micro_f1", "macro_f1", "pair_f1",
                "novelty_f1"):
        assert m[key] == 0.0, key
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert all(v == 0.0 for v in empty.values())
    assert table.iloc[-1][["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]


def test_matches_sklearn_micro_and_macro_on_random_labels():
    rng = np.random.default_rng(0)
    n = 500
    gold = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 9, n))
    pred = np.where(rng.random(n) < 0.6, gold, rng.integers(0, 9, n))
    m = relext_metrics(gold, pred)
    p, r, f, _ = precision_recall_fscore_support(
        gold, pred, labels=list(range(1, 9)), average="micro", zero_division=0
    )
    assert (m["micro_precision"], m["micro_recall"], m["micro_f1"]) == pytest.approx((p, r, f))
    present = sorted(set(gold[gold > 0]) | set(pred[pred > 0]))
    _, _, macro, _ = precision_recall_fscore_support(
        gold, pred, labels=present, average="macro", zero_division=0
    )
    assert m["macro_f1"] == pytest.approx(macro)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        relext_metrics([0, 1], [0])
    with pytest.raises(ValueError, match=r"\[0, 9\)"):
        relext_metrics([0, 9], [0, 0])
    with pytest.raises(ValueError, match="unknown labels"):
        relext_metrics(["NOT", "Causes"], ["NOT", "NOT"])


def test_per_class_table_values_and_support():
    table = per_class_table(GOLD, PRED).set_index("label")
    assert list(table.index) == [*LABELS, "micro (excl. NOT)"]
    assert list(table.columns) == ["precision", "recall", "f1", "support", "predicted", "kind"]
    # Association: TP 2 of 3 predicted (i0, i1, i7), 3 gold (i0, i1, i2)
    assoc = table.loc["Association"]
    assert (assoc.precision, assoc.recall, assoc.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (assoc.support, assoc.predicted) == (3, 3)
    assert table.loc["Bind"][["precision", "recall", "f1", "support", "predicted"]].tolist() == [
        0.0, 0.0, 0.0, 1, 0
    ]
    # NOT, one-vs-rest: TP 3 (i6, i8, i9), predicted 5 (+ i4, i10), gold 4 (+ i7)
    nots = table.loc["NOT"]
    assert (nots.precision, nots.recall, nots.support, nots.predicted) == pytest.approx(
        (3 / 5, 3 / 4, 4, 5)
    )
    assert nots.kind == "excluded"
    micro = table.loc["micro (excl. NOT)"]
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx((2 / 3, 4 / 7, 8 / 13))
    assert (micro.support, micro.predicted, micro.kind) == (7, 6, "summary")
    assert table["support"].iloc[:-1].sum() == len(GOLD)


def test_confusion_frame():
    df = confusion(GOLD, PRED)
    assert df.shape == (9, 9)
    assert list(df.index) == list(LABELS) == list(df.columns)
    assert (df.index.name, df.columns.name) == ("gold", "predicted")
    assert df.loc["NOT", "NOT"] == 3
    assert df.loc["NOT", "Association"] == 1
    assert df.loc["Association", "Association"] == 2
    assert df.loc["Association", "Positive_Correlation"] == 1
    assert df.loc["Positive_Correlation", "NOT"] == 1
    assert df.loc["Bind", "NOT"] == 1
    assert df.to_numpy().sum() == len(GOLD)


def test_plot_confusion_writes_png(tmp_path):
    path = plot_confusion(confusion(GOLD, PRED), tmp_path / "plots" / "cm.png", "fold 0")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 1000


# ---------------------------------------------------------------------------------------------
# ensembling


def test_ensemble_mean():
    a = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    b = np.array([[0.2, 0.7, 0.1], [0.0, 0.4, 0.6]])
    np.testing.assert_allclose(ensemble_probabilities([a, b]), [[0.4, 0.5, 0.1], [0.1, 0.3, 0.6]])


def test_ensemble_vote_with_tie_and_majority():
    # Row 0: one vote each for classes 0 and 1 -> tie; mean (0.4, 0.5, 0.1) picks class 1.
    # Row 1: both vote class 2 -> share 1.
    a = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    b = np.array([[0.2, 0.7, 0.1], [0.0, 0.4, 0.6]])
    out = ensemble_probabilities([a, b], method="vote")
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], atol=1e-5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out.argmax(axis=1).tolist() == [1, 2]
    # Majority beats mean: votes 1, 1, 0 for class 1, though mean favours class 0 (0.57 vs 0.43)
    m = [np.array([[0.9, 0.1]]), np.array([[0.4, 0.6]]), np.array([[0.4, 0.6]])]
    vote = ensemble_probabilities(m, method="vote")
    np.testing.assert_allclose(vote, [[1 / 3, 2 / 3]], atol=1e-5)
    assert ensemble_probabilities(m).argmax() == 0


def test_ensemble_errors():
    with pytest.raises(ValueError, match=r"one shape; got shapes \[\(2, 3\), \(2, 4\)\]"):
        ensemble_probabilities([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="2-D"):
        ensemble_probabilities([np.zeros(3)])
    with pytest.raises(ValueError, match="at least one"):
        ensemble_probabilities([])
    with pytest.raises(ValueError, match="unknown ensemble method"):
        ensemble_probabilities([np.zeros((1, 2))], method="max")


def _fold(keys: list[tuple[int, str, str]], p: list[float]) -> pd.DataFrame:
    df = pd.DataFrame(keys, columns=["abstract_id", "entity_a_id", "entity_b_id"])
    df["p_NOT"] = p
    return df


def test_align_predictions_reorders_to_first_frame():
    keys = [(1, "a", "b"), (1, "a", "c"), (2, "x", "y")]
    f0 = _fold(keys, [0.1, 0.2, 0.3])
    f1 = _fold(keys[::-1], [0.6, 0.5, 0.4])
    a0, a1 = align_predictions([f0, f1])
    pd.testing.assert_frame_equal(a0, f0)
    assert list(a1.columns) == list(f1.columns)
    assert a1[["abstract_id", "entity_a_id", "entity_b_id"]].equals(f0.iloc[:, :3])
    assert a1["p_NOT"].tolist() == [0.4, 0.5, 0.6]


def test_align_predictions_errors():
    keys = [(1, "a", "b"), (1, "a", "c"), (2, "x", "y")]
    with pytest.raises(ValueError, match="frame 1 lacks 1 of 3 instances"):
        align_predictions([_fold(keys, [0, 0, 0]), _fold(keys[:2], [0, 0])])
    with pytest.raises(ValueError, match="frame 0 lacks 1 of 3 instances"):
        align_predictions([_fold(keys[1:], [0, 0]), _fold(keys[:2], [0, 0])])
    with pytest.raises(ValueError, match="duplicated"):
        align_predictions([_fold([*keys, keys[0]], [0, 0, 0, 0])])
    with pytest.raises(ValueError, match="key columns"):
        align_predictions([pd.DataFrame({"abstract_id": [1]})])


# ---------------------------------------------------------------------------------------------
# output files


def _pred_df(with_novel: bool = True) -> pd.DataFrame:
    keys = pd.DataFrame({
        "abstract_id": [10, 10, 11, 10],
        "entity_a_id": ["D001", "D001", "7157", "D002"],
        "entity_b_id": ["D002", "D003", "4193", "p|SUB|V|1763|M"],
        "type": ["Association", "NOT", "Bind", None],
    })
    probs = np.zeros((4, len(LABELS)))
    probs[0, LABELS.index("Association")] = 0.8
    probs[1, LABELS.index("NOT")] = 0.9
    probs[2, LABELS.index("Bind")] = 0.7
    probs[3, LABELS.index("Positive_Correlation")] = 0.6
    novel = np.array([0.9, 0.1, 0.2, 0.7]) if with_novel else None
    return predictions_frame(keys, probs, novel_probs=novel)


def test_predictions_frame_columns():
    df = _pred_df()
    assert list(df.columns) == [
        "abstract_id", "entity_a_id", "entity_b_id", "gold_label", "pred_label", "confidence",
        *[f"p_{label}" for label in LABELS], "p_novel", "pred_novel",
    ]
    assert df["pred_label"].tolist() == ["Association", "NOT", "Bind", "Positive_Correlation"]
    assert df["gold_label"].tolist() == ["Association", "NOT", "Bind", "NOT"]
    assert df["confidence"].tolist() == pytest.approx([0.8, 0.9, 0.7, 0.6])
    assert df["pred_novel"].tolist() == [True, False, False, True]
    with pytest.raises(ValueError, match="expected"):
        predictions_frame(df, np.zeros((4, 3)))


def test_litcoin_submission_golden(tmp_path):
    path = write_litcoin_submission(_pred_df(), tmp_path / "sub.csv")
    # The NOT row (10, D001, D003) is gone; abstract 10's rows come before abstract 11's.
    assert path.read_text() == (
        "id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel\n"
        "0\t10\tAssociation\tD001\tD002\tNovel\n"
        "1\t10\tPositive_Correlation\tD002\tp|SUB|V|1763|M\tNovel\n"
        "2\t11\tBind\t7157\t4193\tNo\n"
    )


def test_pubtator_relations_golden(tmp_path):
    path = write_pubtator_relations(_pred_df(with_novel=False), tmp_path / "rel.pubtator")
    # Without pred_novel every relation is written as Novel.
    assert path.read_text() == (
        "10\tAssociation\tD001\tD002\tNovel\n"
        "10\tPositive_Correlation\tD002\tp|SUB|V|1763|M\tNovel\n"
        "11\tBind\t7157\t4193\tNovel\n"
    )
    path = write_pubtator_relations(_pred_df(), tmp_path / "rel2.pubtator")
    assert path.read_text().splitlines()[-1] == "11\tBind\t7157\t4193\tNo"
