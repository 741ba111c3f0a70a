"""The shared task's relation scores (socio_re.tasks.relext.shared_task) and its command.

Every expected number below is worked out by hand in the comment next to it; a brute-force
scorer written differently (pairwise comparisons, no sets) checks random cases.
"""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
from conftest import run_module

from socio_re.errors import DataError
from socio_re.tasks.relext.data.readers import write_pubtator
from socio_re.tasks.relext.data.sample import generate_litcoin_sample
from socio_re.tasks.relext.shared_task import (
    SETTINGS,
    RelationRecord,
    canonical_id,
    format_table,
    read_relations,
    records_from_predictions,
    relation_keys,
    shared_task_scores,
)

MODULE = "socio_re.cli.score_relext"


def R(doc, type_, a, b, novel=True):  # a record; short, for the fixtures
    return RelationRecord(str(doc), type_, a, b, novel)


def prf_of(scores, setting):
    return tuple(round(scores[f"{setting}_{s}"], 6) for s in ("precision", "recall", "f1"))


def counts_of(scores, setting):
    return tuple(scores[f"{setting}_{s}"] for s in ("tp", "fp", "fn"))


# --- hand-worked fixtures -----------------------------------------------------------------

GOLD = [
    R(1, "Association", "A", "B", True),
    R(1, "Bind", "A", "C", False),
    R(1, "Positive_Correlation", "B", "C", True),
    R(2, "Negative_Correlation", "X", "Y", False),
]
PRED = [
    R(1, "Association", "B", "A", True),      # right on everything (ids swapped)
    R(1, "Bind", "A", "C", True),             # right pair and type, wrong novelty
    R(1, "Association", "C", "D", True),      # no such gold pair
    R(2, "Association", "Y", "X", False),     # right pair and novelty, wrong type
    R(2, "Association", "X", "Y", False),     # the line above again, ids in gold's order
]


def test_hand_worked_micro_scores_over_two_documents():
    s = shared_task_scores(GOLD, PRED)
    # pair: predicted {1:AB, 1:AC, 1:CD, 2:XY} (the duplicate collapses), gold {1:AB, 1:AC,
    # 1:BC, 2:XY}: TP 3 (AB, AC, XY), FP 1 (CD), FN 1 (BC) -> P = R = F1 = 3/4
    assert counts_of(s, "entity_pair") == (3, 1, 1)
    assert prf_of(s, "entity_pair") == (0.75, 0.75, 0.75)
    # type: {AB-Assoc, AC-Bind, CD-Assoc, XY-Assoc} vs {AB-Assoc, AC-Bind, BC-Pos, XY-Neg}:
    # TP 2, FP 2, FN 2 -> 1/2
    assert counts_of(s, "pair_type") == (2, 2, 2)
    assert prf_of(s, "pair_type") == (0.5, 0.5, 0.5)
    # novelty: {AB-N, AC-N, CD-N, XY-No} vs {AB-N, AC-No, BC-N, XY-No}: TP 2 (AB, XY) -> 1/2
    assert counts_of(s, "pair_novelty") == (2, 2, 2)
    assert prf_of(s, "pair_novelty") == (0.5, 0.5, 0.5)
    # all: only AB agrees on type and novelty: TP 1, FP 3, FN 3 -> 1/4
    assert counts_of(s, "pair_type_novelty") == (1, 3, 3)
    assert prf_of(s, "pair_type_novelty") == (0.25, 0.25, 0.25)
    assert s["gold_relations"] == 4 and s["pred_relations"] == 4 and s["gold_documents"] == 2
    assert s["pred_conflicting_pairs"] == 0 and s["pred_unknown_doc_relations"] == 0


def test_precision_and_recall_differ():
    # 2 of 4 gold relations predicted, both right: P = 2/2 = 1, R = 2/4 = 0.5,
    # F1 = 2 * 1 * 0.5 / 1.5 = 2/3
    s = shared_task_scores(GOLD, GOLD[:2])
    for setting in SETTINGS:
        assert counts_of(s, setting) == (2, 0, 2)
        assert prf_of(s, setting) == (1.0, 0.5, round(2 / 3, 6))


def test_wrong_type_is_one_false_positive_and_one_false_negative():
    gold = [R(7, "Positive_Correlation", "D1", "7157", True)]
    pred = [R(7, "Association", "7157", "D1", True)]
    s = shared_task_scores(gold, pred)
    assert counts_of(s, "entity_pair") == (1, 0, 0)       # the pair is right: 1.0
    assert counts_of(s, "pair_type") == (0, 1, 1)         # the type is not: 0
    assert counts_of(s, "pair_novelty") == (1, 0, 0)      # novelty ignores the type: 1.0
    assert counts_of(s, "pair_type_novelty") == (0, 1, 1)
    assert prf_of(s, "pair_type") == (0.0, 0.0, 0.0)
    assert prf_of(s, "pair_novelty") == (1.0, 1.0, 1.0)


def test_wrong_novelty_costs_only_the_novelty_settings():
    gold = [R(7, "Bind", "D1", "7157", False)]
    s = shared_task_scores(gold, [R(7, "Bind", "D1", "7157", True)])
    assert prf_of(s, "entity_pair") == prf_of(s, "pair_type") == (1.0, 1.0, 1.0)
    assert counts_of(s, "pair_novelty") == counts_of(s, "pair_type_novelty") == (0, 1, 1)


def test_prediction_without_novelty_is_wrong_in_the_novelty_settings():
    gold = [R(7, "Bind", "D1", "7157", True)]
    s = shared_task_scores(gold, [R(7, "Bind", "D1", "7157", None)])
    assert counts_of(s, "pair_type") == (1, 0, 0)
    assert counts_of(s, "pair_novelty") == (0, 1, 1)


def test_gold_without_novelty_leaves_the_novelty_settings_out():
    gold = [R(7, "Bind", "D1", "7157", None), R(7, "Bind", "D1", "D2", True)]
    s = shared_task_scores(gold, gold)
    assert s["gold_unknown_novelty"] == 1
    assert "pair_novelty_f1" not in s and "pair_type_novelty_tp" not in s
    assert prf_of(s, "pair_type") == (1.0, 1.0, 1.0)
    assert "n/a" in format_table(s)


def test_unordered_pairs_and_duplicates_count_once():
    gold = [R(1, "Bind", "A", "B")]
    pred = [R(1, "Bind", "B", "A"), R(1, "Bind", "A", "B"), R(1, "Bind", "A", "B")]
    s = shared_task_scores(gold, pred)
    for setting in SETTINGS:  # three lines, one relation: TP 1, FP 0 -> 1.0
        assert counts_of(s, setting) == (1, 0, 0)
    assert s["pred_relations"] == 1
    # duplicated gold lines count once too
    assert counts_of(shared_task_scores(gold * 3, gold), "entity_pair") == (1, 0, 0)


def test_pair_predicted_with_two_types_is_two_type_predictions():
    gold = [R(1, "Bind", "A", "B")]
    pred = [R(1, "Bind", "A", "B"), R(1, "Association", "B", "A")]
    s = shared_task_scores(gold, pred)
    # pair: one pair, right -> 1.0; type: {Bind, Association} vs {Bind}: TP 1, FP 1 ->
    # P 1/2, R 1, F1 2/3
    assert counts_of(s, "entity_pair") == (1, 0, 0)
    assert counts_of(s, "pair_type") == (1, 1, 0)
    assert prf_of(s, "pair_type") == (0.5, 1.0, round(2 / 3, 6))
    assert s["pred_conflicting_pairs"] == 1


def test_documents_absent_from_gold_count_unless_ignored():
    gold = [R(1, "Bind", "A", "B")]
    pred = [R(1, "Bind", "A", "B"), R(99, "Bind", "A", "B"), R(98, "Bind", "C", "D")]
    counted = shared_task_scores(gold, pred)
    # counted: TP 1, FP 2 -> P 1/3, R 1, F1 = 2 * (1/3) / (4/3) = 1/2
    assert counts_of(counted, "entity_pair") == (1, 2, 0)
    assert prf_of(counted, "entity_pair") == (round(1 / 3, 6), 1.0, 0.5)
    assert counted["pred_unknown_doc_relations"] == 2
    ignored = shared_task_scores(gold, pred, unknown_documents="ignore")
    assert counts_of(ignored, "entity_pair") == (1, 0, 0)
    assert ignored["pred_unknown_doc_relations"] == 2
    # a document gold lists without relations is known: predictions there are FPs either way
    known = shared_task_scores(gold, pred, gold_documents={"1", "99"},
                               unknown_documents="ignore")
    assert counts_of(known, "entity_pair") == (1, 1, 0)
    with pytest.raises(ValueError, match="unknown_documents"):
        shared_task_scores(gold, pred, unknown_documents="drop")


def test_empty_predictions_and_empty_gold_score_zero():
    s = shared_task_scores(GOLD, [])
    for setting in SETTINGS:  # TP 0, FP 0, FN 4: P has denominator 0 -> 0; R 0/4; F1 0
        assert counts_of(s, setting) == (0, 0, 4)
        assert prf_of(s, setting) == (0.0, 0.0, 0.0)
    s = shared_task_scores([], [])
    assert all(prf_of(s, setting) == (0.0, 0.0, 0.0) for setting in SETTINGS)
    s = shared_task_scores([], GOLD)  # everything predicted is an FP: P 0/4, R 0/0
    assert counts_of(s, "entity_pair") == (0, 4, 0)


def test_identifiers_trimmed_case_kept_composites_as_sets():
    assert canonical_id(" D001 ") == "D001"
    assert canonical_id("D002; D001") == canonical_id("D001,D002") == "D001,D002"
    gold = [R(1, "Bind", "D001,D002", "7157")]
    assert counts_of(shared_task_scores(gold, [R(1, "Bind", "7157", "D002;D001")]),
                     "entity_pair") == (1, 0, 0)
    # one part of a composite is another entity, and case is part of an identifier
    assert counts_of(shared_task_scores(gold, [R(1, "Bind", "D001", "7157")]),
                     "entity_pair") == (0, 1, 1)
    assert counts_of(shared_task_scores([R(1, "Bind", "D001", "7157")],
                                        [R(1, "Bind", "d001", "7157")]),
                     "entity_pair") == (0, 1, 1)
    # a pair of an identifier with itself is a pair like any other
    assert counts_of(shared_task_scores([R(1, "Bind", "A", "A")], [R(1, "Bind", "A", "A")]),
                     "entity_pair") == (1, 0, 0)
    with pytest.raises(DataError, match="empty"):
        canonical_id(" - ")


def test_relation_keys_per_setting():
    keys = relation_keys([R(5, "Bind", "B", "A", False)], "pair_type_novelty")
    assert keys == {("5", "A", "B", "Bind", False)}
    with pytest.raises(ValueError, match="unknown setting"):
        relation_keys(GOLD, "type")


def test_records_from_the_projects_prediction_frame():
    frame = pd.DataFrame({
        "abstract_id": ["1", "1", "2"], "entity_a_id": ["A", "A", "X"],
        "entity_b_id": ["B", "C", "Y"], "pred_label": ["Association", "NOT", "Bind"],
        "pred_novel": [True, False, "No"],
    })
    recs = records_from_predictions(frame)
    assert [(r.doc_id, r.type, r.id1, r.id2, r.novel) for r in recs] == [
        ("1", "Association", "A", "B", True), ("2", "Bind", "X", "Y", False)]
    recs = records_from_predictions(frame.drop(columns="pred_novel"), novel=True)
    assert all(r.novel is True for r in recs)


# --- an independent brute-force scorer ----------------------------------------------------

def _same(a, b, setting):
    if a.doc_id.strip() != b.doc_id.strip():
        return False
    if {canonical_id(a.id1), canonical_id(a.id2)} != {canonical_id(b.id1), canonical_id(b.id2)}:
        return False
    if setting in ("pair_type", "pair_type_novelty") and a.type != b.type:
        return False
    return not (setting in ("pair_novelty", "pair_type_novelty") and a.novel != b.novel)


def _brute_force(gold, pred, setting):
    def distinct(items):
        kept = []
        for item in items:
            if not any(_same(item, k, setting) for k in kept):
                kept.append(item)
        return kept

    g, p = distinct(gold), distinct(pred)
    tp = sum(any(_same(x, y, setting) for y in p) for x in g)
    fp = sum(not any(_same(y, x, setting) for x in g) for y in p)
    return tp, fp, len(g) - tp


def _random_records(rng, n, novelties):
    return [R(rng.choice("123"), rng.choice(["Bind", "Association", "Conversion"]),
              rng.choice(["A", "B", "C", "D"]), rng.choice(["A", "B", "C", "D"]),
              rng.choice(novelties)) for _ in range(n)]


def test_matches_a_brute_force_scorer_on_random_cases():
    rng = random.Random(17)
    for _ in range(300):
        gold = _random_records(rng, rng.randint(0, 12), [True, False])
        pred = _random_records(rng, rng.randint(0, 12), [True, False, None])
        s = shared_task_scores(gold, pred)
        for setting in SETTINGS:
            tp, fp, fn = _brute_force(gold, pred, setting)
            assert counts_of(s, setting) == (tp, fp, fn)
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0  # 2PR/(P+R) in counts
            assert s[f"{setting}_precision"] == pytest.approx(p)
            assert s[f"{setting}_recall"] == pytest.approx(r)
            assert s[f"{setting}_f1"] == pytest.approx(f)


# --- files --------------------------------------------------------------------------------

LITCOIN_GOLD = (
    "id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel\n"
    "0\t1\tAssociation\tD1\t7157\tNovel\n"
    "1\t1\tBind\tD2\t7157\tNo\n"
    "2\t2\tPositive_Correlation\tD3\tD4\tNovel\n"
)
# the same abstracts as PubTator: full blocks with a mention line; one relation per line
PUBTATOR_PRED = (
    "1|t|Title one\n1|a|Abstract one\n1\t0\t5\tTitle\tChemicalEntity\tD1\n"
    "1\tAssociation|0.93\t7157\tD1\tNovel|0.81\n"      # BioREDirect's scores are dropped
    "1\t7157\tD1\tSubject:D1|0.7\n"                    # a direction line: not scored
    "1\tAssociation\tD1\t7157\tNovel\n"                # the same relation again
    "1\tBind\tD2\t7157\tNovel\n"                       # wrong novelty
    "\n3|t|T\n3|a|A\n3\tBind\tX\tY\n"                  # a document gold does not have
)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_litcoin_and_pubtator_files(tmp_path):
    gold = read_relations(_write(tmp_path / "relations_dev.csv", LITCOIN_GOLD))
    assert gold.kind == "LitCoin relations TSV" and gold.documents == {"1", "2"}
    assert gold.relations[1] == RelationRecord("1", "Bind", "D2", "7157", False,
                                               f"{tmp_path / 'relations_dev.csv'}:3")
    pred = read_relations(_write(tmp_path / "pred.PubTator", PUBTATOR_PRED))
    assert pred.kind == "PubTator" and pred.documents == {"1", "3"} and pred.skipped == 1
    assert [(r.doc_id, r.type, r.novel) for r in pred.relations] == [
        ("1", "Association", True), ("1", "Association", True), ("1", "Bind", True),
        ("3", "Bind", None)]
    # a relations file without the novel column: novelty unknown
    no_novel = read_relations(_write(tmp_path / "r.csv",
                                     "abstract_id\ttype\tentity_1_id\tentity_2_id\n"
                                     "5\tBind\tA\tB\n5\tNOT\tA\tC\n"))
    assert no_novel.relations == [RelationRecord("5", "Bind", "A", "B", None,
                                                 f"{tmp_path / 'r.csv'}:2")]
    assert no_novel.skipped == 1


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("r.csv", "id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel\n0\t1\tBind\tA\n",
     r"r\.csv:2: expected 6 tab-separated columns"),
    ("r.csv", "id\tabstract_id\ttype\tentity_1_id\tnovel\n",
     r"r\.csv:1: the header lacks column\(s\) entity_2_id"),
    ("r.csv", "abstract_id\ttype\tentity_1_id\tentity_2_id\tnovel\n1\tBind\tA\tB\tmaybe\n",
     r"r\.csv:2: novelty must be 'Novel' or 'No'"),
    ("p.txt", "1\tBind\tA\tB\n1\tBind\tA\n", r"p\.txt:2: cannot parse a line with 3"),
    ("p.txt", "1\tbinds\tA\tB\n", r"p\.txt:1: relation type 'binds' is not one of"),
    ("p.txt", "1\tBind\t-\tB\n", r"p\.txt:1: entity id '-' is empty"),
    ("p.txt", "\n\n", r"p\.txt: the file is empty"),
])
def test_malformed_files_name_file_and_line(tmp_path, name, text, expected):
    with pytest.raises(DataError, match=expected):
        read_relations(_write(tmp_path / name, text))


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("relext_sample")
    generate_litcoin_sample(out, num_train=3, num_test=3, seed=1)
    return out


def test_corpus_directory_needs_a_split_when_it_holds_several(sample_dir):
    with pytest.raises(DataError, match="--split"):
        read_relations(sample_dir)
    with pytest.raises(DataError, match="no split 'dev'"):
        read_relations(sample_dir, "dev")
    test = read_relations(sample_dir, "test")
    assert test.kind == "corpus" and len(test.documents) == 3 and test.relations


# --- the command --------------------------------------------------------------------------

def test_cli_scores_litcoin_gold_against_pubtator_predictions(tmp_path):
    gold = _write(tmp_path / "relations_dev.csv", LITCOIN_GOLD)
    pred = _write(tmp_path / "pred.PubTator", PUBTATOR_PRED)
    out = run_module(MODULE, ["--gold", str(gold), "--pred", str(pred)], tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {line[:27].strip(): line[27:].split() for line in out.stdout.splitlines()}
    # gold {1:D1-7157 Assoc N, 1:D2-7157 Bind No, 2:D3-D4 Pos N}; predicted (distinct)
    # {1:D1-7157 Assoc N, 1:D2-7157 Bind N, 3:X-Y Bind -}
    # pair and type: TP 2, FP 1 (document 3), FN 1 (document 2) -> 2/3 each
    assert rows["entity pair"] == ["66.67", "66.67", "66.67", "2", "1", "1"]
    assert rows["pair + type"] == ["66.67", "66.67", "66.67", "2", "1", "1"]
    # novelty: only D1-7157 agrees: TP 1, FP 2, FN 2 -> 1/3
    assert rows["pair + novelty"] == ["33.33", "33.33", "33.33", "1", "2", "2"]
    assert rows["all (pair + type + novelty)"] == ["33.33", "33.33", "33.33", "1", "2", "2"]
    assert "1 predicted relations are for documents not in gold" in out.stdout

    out = run_module(MODULE, ["--gold", str(gold), "--pred", str(pred), "--json",
                              "--ignore-unknown-docs"], tmp_path, timeout=60)
    scores = json.loads(out.stdout)
    # document 3 dropped: pair TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8
    assert (scores["entity_pair_tp"], scores["entity_pair_fp"]) == (2, 0)
    assert scores["entity_pair_f1"] == pytest.approx(0.8)


def test_cli_scores_a_corpus_split_against_itself(tmp_path, sample_dir):
    from socio_re.tasks.relext.data.readers import read_litcoin

    pred = write_pubtator(read_litcoin(sample_dir, "test"), tmp_path / "test.PubTator")
    out = run_module(MODULE, ["--gold", str(sample_dir), "--split", "test", "--pred",
                              str(pred), "--json"], tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    scores = json.loads(out.stdout)
    for setting in SETTINGS:
        assert scores[f"{setting}_f1"] == 1.0 and scores[f"{setting}_fn"] == 0


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path):
    gold = _write(tmp_path / "relations_dev.csv", LITCOIN_GOLD)
    pred = _write(tmp_path / "pred.txt", "1\tBind\tD1\t7157\tNovel\n1\tBind\tD2\n")
    out = run_module(MODULE, ["--gold", str(gold), "--pred", str(pred)], tmp_path, timeout=60)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith("error: ") and f"{pred}:2:" in lines[0]
    out = run_module(MODULE, ["--gold", str(tmp_path / "missing.csv"), "--pred", str(pred)],
                     tmp_path, timeout=60)
    assert out.returncode == 2 and "missing.csv does not exist" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
