"""Real-file quirks of PubTator, BioC JSON and LitCoin files, each read as BioRED means it or
rejected with one line: composite identifiers, ``-`` identifiers, overlapping and discontinuous
mentions, relations whose identifier is only in the other passage, titles with trailing spaces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socio_re.errors import DataError
from socio_re.tasks.relext.data.documents import Mention
from socio_re.tasks.relext.data.instances import build_instances
from socio_re.tasks.relext.data.readers import (
    read_bioc_json,
    read_litcoin,
    read_pubtator,
    write_pubtator,
)
from socio_re.tasks.relext.data.readers.litcoin import write_litcoin
from socio_re.tasks.relext.data.transforms import apply_transform

GENE, DIS, CHEM = "GeneOrGeneProduct", "DiseaseOrPhenotypicFeature", "ChemicalEntity"
ORG = "OrganismTaxon"

# The title ends in a space, as some PubMed titles in BioRED do: the abstract's offsets count it.
TITLE = "Hereditary breast cancer and BRCA1. "
ABSTRACT = ("BRCA1 mutations cause breast and ovarian cancer in women. "
            "Tamoxifen was given to the women.")
TEXT = f"{TITLE} {ABSTRACT}"


def at(word: str, nth: int = 0, text: str = TEXT) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return start, start + len(word)


# (word, nth occurrence, type, identifier column as written)
MENTIONS = [
    ("Hereditary breast cancer", 0, DIS, "D061325"),  # title only
    ("breast cancer", 0, DIS, "D001943"),  # nested inside the mention above
    ("BRCA1", 0, GENE, " 672"),
    ("BRCA1", 1, GENE, "672"),
    ("breast and ovarian cancer", 0, DIS, "D001943; *D010051"),  # composite, ';', '*', space
    ("women", 0, ORG, "-"),  # no normalised identifier
    ("Tamoxifen", 0, CHEM, "D013629"),  # abstract only
    ("women", 1, ORG, "-"),
]
RELATIONS = [
    ("Positive_Correlation", "672", "D001943", "Novel"),
    ("Association", "672", "D010051", "No"),
    # each identifier is mentioned in one passage only, not the same one
    ("Negative_Correlation", "D013629", "D061325", "Novel"),
]


def pubtator_lines(title: str = TITLE, relations=RELATIONS) -> list[str]:
    lines = [f"111|t|{title}", f"111|a|{ABSTRACT}"]
    for word, nth, etype, ident in MENTIONS:
        s, e = at(word, nth)
        lines.append(f"111\t{s}\t{e}\t{word}\t{etype}\t{ident}")
    lines += ["\t".join(["111", *r]) for r in relations]
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_quirk_document(doc) -> None:
    """What every reader must make of the quirk document."""
    assert doc.title == TITLE and doc.text == TEXT  # the trailing space kept
    assert all(doc.text[m.start:m.end] == m.text for m in doc.mentions)
    by_text = {(m.text, m.start): m for m in doc.mentions}
    composite = by_text[("breast and ovarian cancer", at("breast and ovarian cancer")[0])]
    assert composite.ids == ("D001943", "D010051")
    assert by_text[("BRCA1", at("BRCA1")[0])].ids == ("672",)
    assert [m.ids for m in doc.mentions if m.text == "women"] == [(), ()]
    assert doc.entity_ids() == ["D061325", "D001943", "672", "D010051", "D013629"]
    assert {(r.type, r.id1, r.id2, r.novel) for r in doc.relations} == {
        ("Positive_Correlation", "672", "D001943", True),
        ("Association", "672", "D010051", False),
        ("Negative_Correlation", "D013629", "D061325", True),
    }


def check_quirk_instances(doc) -> None:
    instances, stats = build_instances([doc], context="abstract")
    pairs = {frozenset((i.entity_a_id, i.entity_b_id)): i for i in instances}
    assert len(pairs) == 10 and stats["relations_unmentioned"] == 0  # 5 ids, no "-" entity
    # The composite mention is a mention of both its entities: the pair shares that span.
    both = pairs[frozenset(("D001943", "D010051"))]
    shared = (*at("breast and ovarian cancer"), DIS)
    assert shared in both.entity_a and shared in both.entity_b
    # Nested mentions: both kept; the marker transform still marks both entities.
    nested = pairs[frozenset(("D061325", "D001943"))]
    assert nested.type == "NOT"
    _, info = apply_transform(nested, "typed_entity_marker")
    assert info["a_start"] >= 0 and info["b_start"] >= 0
    assert pairs[frozenset(("D013629", "D061325"))].type == "Negative_Correlation"


# --- PubTator -------------------------------------------------------------------------------


def test_pubtator_quirks_read_as_biored_means_them(tmp_path):
    [doc] = read_pubtator(write(tmp_path / "Train.PubTator", pubtator_lines()))
    check_quirk_document(doc)
    check_quirk_instances(doc)
    assert Mention(*at("women"), ORG, "women", ()) in doc.mentions


def test_pubtator_round_trip_keeps_trailing_space_and_ids(tmp_path):
    docs = read_pubtator(write(tmp_path / "a.PubTator", pubtator_lines()))
    again = read_pubtator(write_pubtator(docs, tmp_path / "b.PubTator"))
    assert again == docs
    assert "111|t|Hereditary breast cancer and BRCA1. \n" in (tmp_path / "b.PubTator").read_text()


@pytest.mark.parametrize(("relation", "needle"), [
    (("Association", "672", "-", "No"), "names '-', which means 'no identifier'"),
    (("Association", "672", "D999999", "No"),
     "names identifier 'D999999', which no mention of the document carries"),
    (("Association", "672", "D001943,D010051", "No"), "composite identifier 'D001943,D010051'"),
])
def test_pubtator_relation_to_unmentioned_id_is_one_line(tmp_path, relation, needle):
    lines = pubtator_lines(relations=[*RELATIONS, relation])
    with pytest.raises(DataError, match=needle) as e:
        read_pubtator(write(tmp_path / "Train.PubTator", lines))
    msg = str(e.value)
    assert f"Train.PubTator:{len(lines)}: document 111" in msg and "\n" not in msg


def test_pubtator_title_that_lost_its_trailing_space_is_explained(tmp_path):
    lines = pubtator_lines(title=TITLE.rstrip())
    with pytest.raises(DataError) as e:
        read_pubtator(write(tmp_path / "x.PubTator", lines))
    msg = str(e.value)
    first_abstract_mention = next(i for i, line in enumerate(lines, 1)
                                  if line.startswith(f"111\t{at('BRCA1', 1)[0]}\t"))
    assert f"x.PubTator:{first_abstract_mention}:" in msg
    assert "1 character(s) earlier" in msg and "lose or gain spaces" in msg


def test_pubtator_empty_span_rejected(tmp_path):
    lines = [*pubtator_lines()[:2], "111\t5\t5\t\tDiseaseOrPhenotypicFeature\tD1"]
    with pytest.raises(DataError, match=r"x\.PubTator:3: .*empty span 5-5"):
        read_pubtator(write(tmp_path / "x.PubTator", lines))


# --- LitCoin --------------------------------------------------------------------------------


def litcoin_dir(root: Path, relations=RELATIONS) -> Path:
    write(root / "abstracts_train.csv", ["abstract_id\ttitle\tabstract",
                                         f"111\t{TITLE}\t{ABSTRACT}"])
    write(root / "entities_train.csv", [
        "id\tabstract_id\toffset_start\toffset_finish\ttype\tmention\tentity_ids",
        *(f"{k}\t111\t{at(w, n)[0]}\t{at(w, n)[1]}\t{t}\t{w}\t{i}"
          for k, (w, n, t, i) in enumerate(MENTIONS)),
    ])
    write(root / "relations_train.csv", [
        "id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel",
        *(f"{k}\t111\t{t}\t{a}\t{b}\t{n}" for k, (t, a, b, n) in enumerate(relations)),
    ])
    return root


def test_litcoin_quirks_read_as_biored_means_them(tmp_path):
    [doc] = read_litcoin(litcoin_dir(tmp_path), "train")
    check_quirk_document(doc)
    check_quirk_instances(doc)
    write_litcoin([doc], tmp_path / "out", "train")
    assert read_litcoin(tmp_path / "out", "train") == [doc]


def test_litcoin_relation_to_unmentioned_id_is_one_line(tmp_path):
    litcoin_dir(tmp_path, relations=[*RELATIONS, ("Bind", "D013629", "-", "No")])
    with pytest.raises(DataError, match=r"relations_train\.csv:5: abstract 111, relation row "
                                        r"3: relation Bind 'D013629'-'-' names '-'"):
        read_litcoin(tmp_path, "train")


# --- BioC JSON ------------------------------------------------------------------------------


def ann(ann_id: str, etype: str, ident: str, pieces: list[tuple[int, int]], text: str) -> dict:
    return {"id": ann_id, "infons": {"type": etype, "identifier": ident}, "text": text,
            "locations": [{"offset": s, "length": e - s} for s, e in pieces]}


def bioc(title_text: str = TITLE, abstract_offset: int = len(TITLE) + 1) -> dict:
    """BioC offsets are document-absolute; the abstract passage starts at ``abstract_offset``."""
    def pos(word, nth=0):  # document-absolute offsets as the file states them
        s, e = at(word, nth)
        shift = abstract_offset - (len(TITLE) + 1) if s > len(TITLE) else 0
        return s + shift, e + shift

    title_anns = [
        ann("T0", DIS, "D061325", [pos("Hereditary breast cancer")], "Hereditary breast cancer"),
        ann("T1", DIS, "D001943", [pos("breast cancer")], "breast cancer"),
        ann("T2", GENE, "672", [pos("BRCA1")], "BRCA1"),
        # filed under the title passage although it lies in the abstract: found by its offset
        ann("T3", GENE, "672", [pos("BRCA1", 1)], "BRCA1"),
    ]
    b, o, c = pos("breast", 1), pos("ovarian"), pos("cancer", 1)
    abstract_anns = [
        ann("A0", DIS, "D001943;D010051", [(b[0], c[1])], "breast and ovarian cancer"),
        # discontinuous: "breast ... cancer" (two locations), a mention of D001943 only
        ann("A1", DIS, "D001943", [b, c], "breast cancer"),
        ann("A2", ORG, "-", [pos("women")], "women"),
        ann("A3", CHEM, "D013629", [pos("Tamoxifen")], "Tamoxifen"),
        ann("A4", ORG, "-", [pos("women", 1)], "women"),
    ]
    rel = [{"id": f"R{k}", "infons": {"type": t, "entity1": a, "entity2": e, "novel": n}}
           for k, (t, a, e, n) in enumerate(RELATIONS)]
    return {"documents": [{
        "id": "111",
        "passages": [
            {"offset": 0, "text": title_text, "infons": {"type": "title"},
             "annotations": title_anns,
             # a relation kept with the title passage whose chemical is only in the abstract
             "relations": rel[2:]},
            {"offset": abstract_offset, "text": ABSTRACT, "infons": {"type": "abstract"},
             "annotations": abstract_anns, "relations": []},
        ],
        "relations": rel[:2],
    }]}, o


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_bioc_quirks_read_as_biored_means_them(tmp_path):
    data, _ = bioc()
    [doc] = read_bioc_json(write_json(tmp_path / "Train.BioC.JSON", data))
    discontinuous = Mention(at("breast", 1)[0], at("cancer", 1)[1], DIS,
                            "breast and ovarian cancer", ("D001943",))
    assert discontinuous in doc.mentions
    doc.mentions.remove(discontinuous)
    check_quirk_document(doc)
    check_quirk_instances(doc)
    assert [r.relation_id for r in doc.relations] == ["R0", "R1", "R2"]


def test_bioc_trimmed_title_keeps_its_offsets(tmp_path):
    """A title passage whose trailing space was trimmed, with the abstract still at its stated
    offset: every annotation is re-based on its passage, so all mentions stay right."""
    data, _ = bioc(title_text=TITLE.rstrip())
    [doc] = read_bioc_json(write_json(tmp_path / "x.json", data))
    assert doc.title == TITLE.rstrip() and doc.abstract == ABSTRACT
    assert all(doc.text[m.start:m.end] == m.text for m in doc.mentions)
    assert {m.text for m in doc.mentions} >= {"Tamoxifen", "BRCA1", "Hereditary breast cancer"}


def test_bioc_abstract_offset_not_after_title(tmp_path):
    """The abstract passage at an offset of its own (here 10 past the title): read right."""
    data, _ = bioc(abstract_offset=len(TITLE) + 11)
    [doc] = read_bioc_json(write_json(tmp_path / "x.json", data))
    assert doc.text == TEXT and all(doc.text[m.start:m.end] == m.text for m in doc.mentions)


def _bioc_error(tmp_path: Path, change) -> str:
    data, ovarian = bioc()
    change(data["documents"][0], ovarian)
    with pytest.raises(DataError) as e:
        read_bioc_json(write_json(tmp_path / "Train.BioC.JSON", data))
    assert "\n" not in str(e.value)
    return str(e.value)


def test_bioc_location_in_no_passage_is_one_line(tmp_path):
    def change(doc, _):
        doc["passages"][1]["annotations"][3]["locations"][0]["offset"] = 5000
    msg = _bioc_error(tmp_path, change)
    assert "document 111, annotation A3: location 5000-5009 lies in no passage" in msg
    assert "title 0-36, abstract 37-128" in msg


def test_bioc_discontinuous_mention_across_passages_is_one_line(tmp_path):
    def change(doc, _):
        doc["passages"][1]["annotations"][1]["locations"][0] = {"offset": 11, "length": 6}
    msg = _bioc_error(tmp_path, change)
    assert "annotation A1: its locations fall in different passages (abstract, title)" in msg


def test_bioc_relation_to_unmentioned_id_is_one_line(tmp_path):
    def change(doc, _):
        doc["relations"][0]["infons"]["entity2"] = "D999999"
    msg = _bioc_error(tmp_path, change)
    assert "document 111, relation R0: relation Positive_Correlation '672'-'D999999'" in msg


def test_bioc_empty_location_is_one_line(tmp_path):
    def change(doc, _):
        doc["passages"][0]["annotations"][2]["locations"][0]["length"] = 0
    msg = _bioc_error(tmp_path, change)
    assert "annotation T2: location at 29 has length 0" in msg

