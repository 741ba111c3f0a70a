"""Relext instances: sentence splitting, pair building, folds, split files and marker transforms.

Everything is built from hand-made documents so these tests need no reader and no data file.
"""

from __future__ import annotations

import json

import pytest

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.relext.data.documents import NOT, Document, Mention, Relation
from socio_re.tasks.relext.data.folds import (
    assign_folds,
    fold_split,
    folds_from_split_files,
    write_split_files,
)
from socio_re.tasks.relext.data.instances import (
    Instance,
    build_instances,
    read_split_file,
    type_pairs_of,
    write_split_file,
)
from socio_re.tasks.relext.data.sentences import sentence_spans
from socio_re.tasks.relext.data.transforms import apply_transform, marker_tokens

CHEM, DIS, ORG = "ChemicalEntity", "DiseaseOrPhenotypicFeature", "OrganismTaxon"


def _sentences(text: str, title_len: int | None = None) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text, title_len)]


def _mention(text: str, word: str, nth: int, etype: str, *ids: str) -> Mention:
    """The ``nth`` (0-based) occurrence of ``word`` in ``text`` as a mention."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return Mention(start, start + len(word), etype, word, ids)


# --------------------------------------------------------------------------- sentences


def test_splitter_keeps_abbreviations_and_decimals_together():
    text = (
        "Aspirin (e.g. 2.5 mg) was given, cf. Fig. 2. Doses differed vs. Placebo, i.e. "
        "Higher. Smith et al. Reported approx. 3 cases. Why? 12 died! the end."
    )
    assert _sentences(text) == [
        "Aspirin (e.g. 2.5 mg) was given, cf. Fig. 2.",
        "Doses differed vs. Placebo, i.e. Higher.",
        "Smith et al. Reported approx. 3 cases.",
        "Why?",
        "12 died! the end.",  # lowercase after "!" does not start a sentence
    ]


def test_splitter_title_is_its_own_sentence():
    title, abstract = "Aspirin and asthma", "Aspirin was given. It helped."
    text = f"{title} {abstract}"
    assert _sentences(text) == ["Aspirin and asthma Aspirin was given.", "It helped."]
    split = _sentences(text, len(title))
    assert split == ["Aspirin and asthma", "Aspirin was given.", "It helped."]
    assert sentence_spans(text, len(title))[0] == (0, len(title))
    assert sentence_spans("") == []


# --------------------------------------------------------------------------- instances

TITLE = "Aspirin induces asthma"
ABSTRACT = "Aspirin (e.g. 2.5 mg) was given. Asthma worsened in mice. Mice tolerated it."
TEXT = f"{TITLE} {ABSTRACT}"


def _doc() -> Document:
    """3 entities: D1 (chemical), D2 (disease), T1 (organism); 4 sentences."""
    mentions = [
        _mention(TEXT, "Aspirin", 0, CHEM, "D1"),
        _mention(TEXT, "asthma", 0, DIS, "D2"),
        _mention(TEXT, "Aspirin", 1, CHEM, "D1"),
        _mention(TEXT, "mg", 0, CHEM),  # no id: ignored
        _mention(TEXT, "Asthma", 0, DIS, "D2"),
        _mention(TEXT, "mice", 0, ORG, "T1"),
        _mention(TEXT, "Mice", 0, ORG, "T1"),
    ]
    relations = [
        Relation("Positive_Correlation", "D2", "D1", True, "R1"),  # reversed direction
        Relation("Association", "D1", "D2", False, "R2"),  # same pair again: first one wins
        Relation("Association", "D1", "T1", None, "R3"),  # cross-sentence
        Relation("Bind", "D1", "D9", False, "R4"),  # D9 never mentioned
    ]
    return Document("100", TITLE, ABSTRACT, mentions, relations)


def _by_pair(instances: list[Instance]) -> dict[frozenset[str], Instance]:
    return {frozenset((i.entity_a_id, i.entity_b_id)): i for i in instances}


def _check_offsets(inst: Instance, doc: Document) -> None:
    for entity, spans in ((inst.entity_a_id, inst.entity_a), (inst.entity_b_id, inst.entity_b)):
        words = sorted(inst.text[s:e] for s, e, _ in spans)
        assert words == sorted(m.text for m in doc.mentions_of(entity))
        assert {t for _, _, t in spans} == {doc.entity_type(entity)}


def test_build_instances_pairs_labels_direction_and_stats():
    doc = _doc()
    instances, stats = build_instances([doc])
    assert [(i.entity_a_id, i.entity_b_id, i.type) for i in instances] == [
        ("D2", "D1", "Positive_Correlation"),  # entity_a is the relation's entity_1
        ("D1", "T1", "Association"),
        ("D2", "T1", NOT),  # unrelated: first-mentioned first
    ]
    pc, assoc, neg = instances
    assert (pc.relation_id, pc.novel) == ("R1", True)
    assert (assoc.relation_id, assoc.novel) == ("R3", None)
    assert (neg.relation_id, neg.novel) == (None, None)
    assert stats["count"]["Positive_Correlation"] == 1 and stats["count"][NOT] == 1
    assert stats["total"] == 3 and stats["positives"] == 2
    assert stats["cross_sentence"] == 1 and stats["cross_sentence_share"] == 0.5
    assert stats["relations_unmentioned"] == 1 and stats["duplicate_relations"] == 1


def test_sentence_context_and_remapped_offsets():
    doc = _doc()
    pairs = _by_pair(build_instances([doc])[0])
    neg = pairs[frozenset(("D2", "T1"))]
    # Sentence 2 ("Aspirin (e.g. ...") mentions neither asthma nor mice: left out.
    assert neg.text == "Aspirin induces asthma Asthma worsened in mice. Mice tolerated it."
    assert neg.entity_a == [(16, 22, DIS), (23, 29, DIS)]
    assert pairs[frozenset(("D1", "D2"))].text == (
        "Aspirin induces asthma Aspirin (e.g. 2.5 mg) was given. Asthma worsened in mice."
    )
    for inst in pairs.values():
        _check_offsets(inst, doc)


def test_abstract_context_keeps_document_offsets():
    doc = _doc()
    instances, _ = build_instances([doc], context="abstract")
    for inst in instances:
        assert inst.text == doc.text
        _check_offsets(inst, doc)
    with pytest.raises(ConfigError, match="sentences or abstract"):
        build_instances([doc], context="paragraph")


def test_type_filter_and_type_pairs_of():
    doc = _doc()
    seen = {frozenset((CHEM, DIS)), frozenset((CHEM, ORG))}
    assert type_pairs_of([doc]) == seen
    assert type_pairs_of(build_instances([doc])[0]) == seen
    instances, stats = build_instances([doc], type_pairs={frozenset((CHEM, DIS))})
    assert [i.type for i in instances] == ["Positive_Correlation"]
    assert stats["dropped_by_type"] == 2 and stats["positives_dropped_by_type"] == 1


def _many_entities_doc(doc_id: str = "200", n: int = 6) -> Document:
    words = [f"Chem{i}" for i in range(n)]
    abstract = ". ".join(f"{w} was tested" for w in words) + "."
    title = "Many chemicals"
    text = f"{title} {abstract}"
    mentions = [_mention(text, w, 0, CHEM, f"C{i}") for i, w in enumerate(words)]
    return Document(doc_id, title, abstract, mentions, [Relation("Comparison", "C0", "C1")])


def test_negative_downsampling_is_deterministic():
    doc = _many_entities_doc()
    full, full_stats = build_instances([doc])
    assert full_stats["count"][NOT] == 14 and full_stats["positives"] == 1

    def kept(seed: int) -> list[tuple[str, str]]:
        instances, stats = build_instances([doc], negative_ratio=2, seed=seed)
        assert stats["count"][NOT] == 2 and stats["not_dropped_by_sampling"] == 12
        assert stats["positives"] == 1
        return [(i.entity_a_id, i.entity_b_id) for i in instances]

    assert kept(0) == kept(0)
    assert any(kept(s) != kept(0) for s in range(1, 5))
    assert build_instances([doc], negative_ratio=0)[1]["count"][NOT] == 0
    # Order of kept instances follows the unsampled order.
    order = [(i.entity_a_id, i.entity_b_id) for i in full]
    assert kept(3) == sorted(kept(3), key=order.index)


# --------------------------------------------------------------------------- folds


IDS = [f"a{i:02d}" for i in range(23)]


def test_folds_grouped_balanced_deterministic():
    fold_of = assign_folds(IDS, k=5, seed=42)
    assert set(fold_of) == set(IDS) and set(fold_of.values()) == set(range(5))
    sizes = sorted(list(fold_of.values()).count(f) for f in range(5))
    assert sizes == [4, 4, 5, 5, 5]
    assert assign_folds(IDS, k=5, seed=42) == fold_of
    assert assign_folds(list(reversed(IDS)) + IDS[:3], k=5, seed=42) == fold_of
    assert assign_folds(IDS, k=5, seed=7) != fold_of


def _instances_for(ids: list[str]) -> list[Instance]:
    return [
        Instance(a, None, "x", "y", NOT, None, "x y", [(0, 1, CHEM)], [(2, 3, CHEM)])
        for a in ids
        for _ in range(2)
    ]


def test_fold_split_disjoint_complete_and_all():
    fold_of = assign_folds(IDS, k=5)
    instances = _instances_for(IDS)
    seen_val: set[str] = set()
    for fold in range(5):
        train, val = fold_split(instances, fold_of, fold)
        train_ids, val_ids = {i.abstract_id for i in train}, {i.abstract_id for i in val}
        assert not train_ids & val_ids
        assert train_ids | val_ids == set(IDS)
        assert len(train) + len(val) == len(instances)
        assert not val_ids & seen_val
        seen_val |= val_ids
    assert seen_val == set(IDS)
    train, val = fold_split(instances, fold_of, "all")
    assert train == instances and val == []


@pytest.mark.parametrize("bad", [5, -1, "3", "first", True, None, 1.0])
def test_fold_out_of_range_is_config_error(bad):
    with pytest.raises(ConfigError, match=r"an integer 0\.\.4 or all") as err:
        fold_split([], {}, bad, k=5)
    assert err.value.key == "fold"


# --------------------------------------------------------------------------- split files


def test_split_file_round_trip(tmp_path):
    instances = build_instances([_doc(), _many_entities_doc()])[0]
    assert {i.novel for i in instances} == {True, None}
    assert [i.type for i in instances[:4]] == ["Positive_Correlation", "Association", NOT,
                                               "Comparison"]
    instances[3].novel = False
    path = write_split_file(instances, tmp_path / "split_0.json")
    records = json.loads(path.read_text())
    assert list(records[0]) == [
        "abstract_id", "relation_id", "entity_a_id", "entity_b_id", "type", "novel", "text",
        "entity_a", "entity_b",
    ]
    # The iKraph form: novel a JSON boolean, false for every NOT pair; null only for a relation
    # whose novelty the corpus does not annotate.
    assert [r["novel"] for r in records[:4]] == [True, None, False, False]
    assert all(r["novel"] is False for r in records if r["type"] == NOT)
    assert records[0]["entity_a"][0] == [16, 22, DIS]
    assert read_split_file(path) == instances


def test_split_file_older_form_still_read(tmp_path):
    """Files written before the iKraph form (novel "Novel" / "No" / null) read the same."""
    instances = build_instances([_doc()])[0]
    instances[1].novel = False
    records = json.loads(write_split_file(instances, tmp_path / "new.json").read_text())
    words = {True: "Novel", False: "No"}
    for rec, inst in zip(records, instances, strict=True):
        rec["novel"] = words.get(inst.novel)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(records, indent=1))
    assert read_split_file(old) == instances


@pytest.mark.parametrize(("novel", "needle"), [
    ("Maybe", "novel 'Maybe' is not true, false or null"),
    (1, "novel 1 is not true, false or null"),
])
def test_split_file_bad_novelty_names_record(tmp_path, novel, needle):
    instances = build_instances([_doc()])[0]
    path = write_split_file(instances, tmp_path / "split_3.json")
    records = json.loads(path.read_text())
    records[0]["novel"] = novel
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=rf"split_3\.json, record 0: {needle}"):
        read_split_file(path)


def test_split_file_empty_entity_spans_rejected(tmp_path):
    instances = build_instances([_doc()])[0]
    path = write_split_file(instances, tmp_path / "split_0.json")
    records = json.loads(path.read_text())
    records[1]["entity_b"] = []
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"record 1: entity_b is empty.*drop the record"):
        read_split_file(path)


def test_split_file_validation_names_file_and_record(tmp_path):
    instances = build_instances([_doc()])[0]
    path = write_split_file(instances, tmp_path / "split_0.json")
    records = json.loads(path.read_text())
    del records[1]["text"]
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"split_0\.json, record 1: missing field\(s\) text"):
        read_split_file(path)
    records = json.loads(write_split_file(instances, path).read_text())
    records[2]["entity_b"][0][1] = 10_000
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"record 2: entity_b span .* outside text"):
        read_split_file(path)
    with pytest.raises(DataError, match="does not exist"):
        read_split_file(tmp_path / "nope.json")


def test_folds_reconstructed_from_split_files(tmp_path):
    instances = _instances_for(IDS)
    fold_of = assign_folds(IDS, k=5)
    test = _instances_for(["t1"])
    paths = write_split_files(instances, fold_of, tmp_path, test_instances=test)
    assert [p.name for p in paths] == [f"split_{i}.json" for i in range(5)] + ["test.json"]
    fold_of2, everything, test2 = folds_from_split_files(tmp_path)
    assert fold_of2 == fold_of and test2 == test
    assert sorted(everything, key=lambda i: i.abstract_id) == instances
    for fold in range(5):
        val = fold_split(instances, fold_of, fold)[1]
        val2 = fold_split(everything, fold_of2, fold)[1]
        assert val2 == val


# --------------------------------------------------------------------------- transforms

# Two sentences; A (chemical) mentioned twice, B (disease) once.
EXAMPLE = Instance(
    abstract_id="1", relation_id="R1", entity_a_id="D1", entity_b_id="D2",
    type="Positive_Correlation", novel=True,
    text="Aspirin can cause asthma. We stopped aspirin.",
    entity_a=[(0, 7, CHEM), (37, 44, CHEM)], entity_b=[(18, 24, DIS)],
)
GOLDEN = {
    "entity_mask": (
        "[SUBJ-ChemicalEntity] can cause [OBJ-DiseaseOrPhenotypicFeature]. "
        "We stopped [SUBJ-ChemicalEntity]."
    ),
    "entity_marker": (
        "[E1] Aspirin [/E1] can cause [E2] asthma [/E2]. We stopped [E1] aspirin [/E1]."
    ),
    "entity_marker_punct": "@ Aspirin @ can cause # asthma #. We stopped @ aspirin @.",
    "typed_entity_marker": (
        "[SUBJ-ChemicalEntity] Aspirin [/SUBJ-ChemicalEntity] can cause "
        "[OBJ-DiseaseOrPhenotypicFeature] asthma [/OBJ-DiseaseOrPhenotypicFeature]. "
        "We stopped [SUBJ-ChemicalEntity] aspirin [/SUBJ-ChemicalEntity]."
    ),
    "typed_entity_marker_punct": (
        "@ * ChemicalEntity * Aspirin @ can cause # ^ DiseaseOrPhenotypicFeature ^ asthma #. "
        "We stopped @ * ChemicalEntity * aspirin @."
    ),
}
B_MARKER = {
    "entity_mask": "[OBJ-",
    "entity_marker": "[E2]",
    "entity_marker_punct": "# asthma",
    "typed_entity_marker": "[OBJ-",
    "typed_entity_marker_punct": "# ^",
}


@pytest.mark.parametrize("method", list(GOLDEN))
def test_transform_golden_strings(method):
    text, info = apply_transform(EXAMPLE, method)
    assert text == GOLDEN[method]
    assert info["a_start"] == 0
    assert info["b_start"] == text.index(B_MARKER[method])


def test_transform_aliases_and_unknown_method():
    for alias in ("entity_marker_punkt", "typed_entity_marker_punkt"):
        canonical = alias.replace("punkt", "punct")
        assert apply_transform(EXAMPLE, alias) == apply_transform(EXAMPLE, canonical)
    with pytest.raises(ConfigError, match="typed_entity_marker_punct") as err:
        apply_transform(EXAMPLE, "bold")
    assert err.value.key == "task.transform"


def test_transform_b_before_a():
    swapped = Instance(**{**EXAMPLE.__dict__, "entity_a": EXAMPLE.entity_b,
                          "entity_b": EXAMPLE.entity_a})
    text, info = apply_transform(swapped, "typed_entity_marker_punct")
    assert text == (
        "# ^ ChemicalEntity ^ Aspirin # can cause @ * DiseaseOrPhenotypicFeature * asthma @. "
        "We stopped # ^ ChemicalEntity ^ aspirin #."
    )
    assert info == {"b_start": 0, "a_start": text.index("@ *"),
                    "b_starts": [0, text.index("# ^", 1)], "a_starts": [text.index("@ *")]}


def test_transform_overlaps_keep_longer_and_never_lose_an_entity():
    text = "aspirin-induced asthma and aspirin"
    # A "aspirin" inside B "aspirin-induced asthma": the longer B wins, A keeps its other mention.
    inst = Instance("1", None, "A", "B", NOT, None, text,
                    [(0, 7, CHEM), (27, 34, CHEM)], [(0, 22, DIS)])
    out, info = apply_transform(inst, "entity_marker_punct")
    assert out == "# aspirin-induced asthma # and @ aspirin @"
    assert info == {"a_start": out.index("@"), "b_start": 0, "a_starts": [out.index("@")],
                    "b_starts": [0]}
    # A's only mention swallowed: nested inside B's instead of dropped.
    inst = Instance("1", None, "A", "B", NOT, None, text, [(0, 7, CHEM)], [(0, 22, DIS)])
    out, info = apply_transform(inst, "entity_marker")
    assert out == "[E2] [E1] aspirin [/E1]-induced asthma [/E2] and aspirin"
    assert info == {"a_start": 5, "b_start": 0, "a_starts": [5], "b_starts": [0]}
    out, info = apply_transform(inst, "entity_mask")
    assert out == "[OBJ-DiseaseOrPhenotypicFeature] [SUBJ-ChemicalEntity] and aspirin"
    # One composite mention carrying both ids: A wins the tie, B nests inside.
    inst = Instance("1", None, "A", "B", NOT, None, "x y", [(0, 3, CHEM)], [(0, 3, CHEM)])
    assert apply_transform(inst, "entity_marker_punct")[0] == "@ # x y # @"


def test_marker_tokens():
    assert marker_tokens("entity_marker") == ["[E1]", "[/E1]", "[E2]", "[/E2]"]
    assert marker_tokens("entity_marker_punkt") == []
    assert marker_tokens("typed_entity_marker_punct") == []
    assert marker_tokens("entity_mask", (CHEM, DIS)) == [
        "[SUBJ-ChemicalEntity]", "[SUBJ-DiseaseOrPhenotypicFeature]",
        "[OBJ-ChemicalEntity]", "[OBJ-DiseaseOrPhenotypicFeature]",
    ]
    typed = marker_tokens("typed_entity_marker")
    assert len(typed) == 24 and "[/OBJ-CellLine]" in typed
    # Every bracket token the transform can emit is in the list.
    for method in ("entity_mask", "entity_marker", "typed_entity_marker"):
        out, _ = apply_transform(EXAMPLE, method)
        emitted = {w for w in out.replace(".", " ").split() if w.startswith("[")}
        assert emitted <= set(marker_tokens(method))
