"""The seed (iKraph) relation pipeline's own split files: read as they are, and this project's
writer writes the same records (``tests/fixtures/ikraph_split/``, hand-made in that format)."""

from __future__ import annotations

import json
from pathlib import Path

from socio_re.tasks.relext.data.folds import folds_from_split_files, split_paths, write_split_files
from socio_re.tasks.relext.data.instances import FIELDS, read_split_file
from socio_re.tasks.relext.data.transforms import apply_transform

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ikraph_split"
PMIDS = ["10001", "10002", "10003", "10004", "10005"]


def _records(name: str) -> list[dict]:
    return json.loads((FIXTURE / name).read_text(encoding="utf-8"))


def test_fixture_is_the_pipeline_format():
    """Guard the fixture itself: the keys, value types and id forms the pipeline writes."""
    records = _records("train_all.json")
    assert sum(len(_records(f"split_{k}.json")) for k in range(5)) == len(records) == 31
    for rec in records:
        assert list(rec) == list(FIELDS)
        assert isinstance(rec["abstract_id"], int) and isinstance(rec["novel"], bool)
        kind, pmid, _ = rec["relation_id"].split(".")
        assert kind == ("False" if rec["type"] == "NOT" else "True")
        assert pmid == str(rec["abstract_id"])
        if rec["type"] == "NOT":
            assert rec["novel"] is False
    assert {r["novel"] for r in records if r["type"] != "NOT"} == {True, False}


def test_pipeline_split_directory_reads_as_is():
    fold_of, instances, test = folds_from_split_files(FIXTURE)
    assert fold_of == {pmid: k for k, pmid in enumerate(PMIDS)}
    assert test == []  # the pipeline writes no test.json; train_all.json etc. are not folds
    assert [p.name for p in split_paths(FIXTURE)] == [f"split_{k}.json" for k in range(5)]
    assert len(instances) == 31 and sum(i.type != "NOT" for i in instances) == 10
    by_id = {i.relation_id: i for i in instances}
    assert all(isinstance(i.abstract_id, str) for i in instances)
    # novel: true / false for annotated pairs; a NOT pair has no novelty
    assert by_id["True.10001.0"].novel is True and by_id["True.10001.1"].novel is False
    assert {i.novel for i in instances if i.type == "NOT"} == {None}
    assert by_id["True.10001.0"].type == "Positive_Correlation"
    # spans as written: unsorted within a sentence, and shared by the composite mention
    assoc = by_id["True.10001.1"]
    assert assoc.entity_b == [(42, 55, "DiseaseOrPhenotypicFeature"),
                              (9, 34, "DiseaseOrPhenotypicFeature"),
                              (115, 128, "DiseaseOrPhenotypicFeature")]
    pair = next(i for i in instances if {i.entity_a_id, i.entity_b_id} == {"D001943", "D010051"})
    assert (9, 34, "DiseaseOrPhenotypicFeature") in pair.entity_a
    assert (9, 34, "DiseaseOrPhenotypicFeature") in pair.entity_b
    assert pair.text[9:34] == "breast and ovarian cancer"
    # a context that skips the sentences mentioning neither entity
    ampk = next(i for i in instances if {i.entity_a_id, i.entity_b_id} == {"5562", "CVCL_0027"})
    assert ampk.text == "Metformin and AMPK. Metformin activates AMPK in HepG2 cells."
    for inst in instances:
        for s, e, _ in inst.entity_a + inst.entity_b:
            assert 0 <= s < e <= len(inst.text)
        _, info = apply_transform(inst, "typed_entity_marker_punct")
        assert info["a_start"] >= 0 and info["b_start"] >= 0


def test_project_writer_writes_the_pipeline_records(tmp_path):
    """Read the pipeline's files, write them with this project's writer: the same records
    (abstract_id as a string the only difference), and they read back unchanged."""
    fold_of, instances, _ = folds_from_split_files(FIXTURE)
    write_split_files(instances, fold_of, tmp_path, k=5)
    for k in range(5):
        ours = json.loads((tmp_path / f"split_{k}.json").read_text(encoding="utf-8"))
        theirs = _records(f"split_{k}.json")
        assert [{**r, "abstract_id": int(r["abstract_id"])} for r in ours] == theirs
        assert read_split_file(tmp_path / f"split_{k}.json") == read_split_file(
            FIXTURE / f"split_{k}.json")
    fold_of2, again, _ = folds_from_split_files(tmp_path)
    assert fold_of2 == fold_of and again == instances
