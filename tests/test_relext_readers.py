"""Relext readers (LitCoin TSV, PubTator, BioC JSON), format auto-detection and the sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.relext.data.documents import RELATION_TYPES, Document, Mention, Relation
from socio_re.tasks.relext.data.readers import (
    read_bioc_json,
    read_corpus,
    read_litcoin,
    read_pubtator,
    relation_lines,
    write_pubtator,
)
from socio_re.tasks.relext.data.sample import generate_litcoin_sample

# --- hand-written LitCoin files (tab-separated despite .csv; a title with bare quotes) -------

LITCOIN_ABSTRACTS = [
    "abstract_id\ttitle\tabstract",
    '1001\tA "two-hit" model of hepatocellular carcinoma.\t'
    "TNF-alpha inhibits HCC in mice. Cisplatin binds to BRCA1.",
    "1002\tBRAF p.V600E in melanoma.\tp.V600E is associated with melanoma.",
]
LITCOIN_ENTITIES = [
    "id\tabstract_id\toffset_start\toffset_finish\ttype\tmention\tentity_ids",
    "0\t1001\t21\t45\tDiseaseOrPhenotypicFeature\thepatocellular carcinoma\tD006528",
    "1\t1001\t47\t56\tGeneOrGeneProduct\tTNF-alpha\t7124",
    # two ids, the second with a leading space
    "2\t1001\t66\t69\tDiseaseOrPhenotypicFeature\tHCC\tD006528, D000077195",
    "3\t1001\t73\t77\tOrganismTaxon\tmice\t10090",
    "4\t1001\t79\t88\tChemicalEntity\tCisplatin\t D002945",
    "5\t1001\t98\t103\tGeneOrGeneProduct\tBRCA1\t672",
    "6\t1002\t0\t4\tGeneOrGeneProduct\tBRAF\t673",
    "7\t1002\t5\t12\tSequenceVariant\tp.V600E\tp|SUB|V|600|E",
    "8\t1002\t16\t24\tDiseaseOrPhenotypicFeature\tmelanoma\tD008545",
    "9\t1002\t26\t33\tSequenceVariant\tp.V600E\tp|SUB|V|600|E",
    "10\t1002\t53\t61\tDiseaseOrPhenotypicFeature\tmelanoma\tD008545",
]
LITCOIN_RELATIONS = [
    "id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel",
    "0\t1001\tNegative_Correlation\t7124\tD006528\tNovel",
    "1\t1001\tBind\tD002945\t672\tNo",
    "2\t1002\tAssociation\tp|SUB|V|600|E\tD008545\tNovel",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _litcoin_dir(root: Path, split: str = "train", relations: bool = True) -> Path:
    _write(root / f"abstracts_{split}.csv", LITCOIN_ABSTRACTS)
    _write(root / f"entities_{split}.csv", LITCOIN_ENTITIES)
    if relations:
        _write(root / f"relations_{split}.csv", LITCOIN_RELATIONS)
    return root


def test_litcoin_fields(tmp_path):
    docs = read_litcoin(_litcoin_dir(tmp_path), "train")
    assert [d.id for d in docs] == ["1001", "1002"]
    d = docs[0]
    assert d.title == 'A "two-hit" model of hepatocellular carcinoma.'
    assert d.abstract == "TNF-alpha inhibits HCC in mice. Cisplatin binds to BRCA1."
    assert d.mentions[0] == Mention(21, 45, "DiseaseOrPhenotypicFeature",
                                    "hepatocellular carcinoma", ("D006528",))
    assert d.mentions[2] == Mention(66, 69, "DiseaseOrPhenotypicFeature", "HCC",
                                    ("D006528", "D000077195"))
    assert d.mentions[4].ids == ("D002945",)
    assert d.relations == [
        Relation("Negative_Correlation", "7124", "D006528", True, "0"),
        Relation("Bind", "D002945", "672", False, "1"),
    ]
    assert d.entity_ids() == ["D006528", "7124", "D000077195", "10090", "D002945", "672"]
    v = docs[1]
    assert v.mentions[1] == Mention(5, 12, "SequenceVariant", "p.V600E", ("p|SUB|V|600|E",))
    assert v.relations == [Relation("Association", "p|SUB|V|600|E", "D008545", True, "2")]
    for doc in docs:
        assert all(doc.text[m.start:m.end] == m.text for m in doc.mentions)


def test_litcoin_relations_optional(tmp_path):
    docs = read_litcoin(_litcoin_dir(tmp_path, "test", relations=False), "test")
    assert len(docs) == 2 and all(not d.relations for d in docs)
    assert len(docs[0].mentions) == 6


def test_litcoin_offset_mismatch_names_file_line_document_entity(tmp_path):
    _litcoin_dir(tmp_path)
    lines = list(LITCOIN_ENTITIES)
    lines[3] = "2\t1001\t65\t68\tDiseaseOrPhenotypicFeature\tHCC\tD006528"
    _write(tmp_path / "entities_train.csv", lines)
    with pytest.raises(DataError) as e:
        read_litcoin(tmp_path, "train")
    msg = str(e.value)
    assert "entities_train.csv:4" in msg and "1001" in msg and "entity row 2" in msg
    assert "'HCC'" in msg and "' HC'" in msg


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("3\t1001\t73\t77\tOrganismTaxon\tmice", "expected 7 tab-separated columns"),
        ("3\t1001\tx73\t77\tOrganismTaxon\tmice\t10090", "offset_start must be an integer"),
    ],
)
def test_litcoin_bad_line_gives_file_line(tmp_path, bad, needle):
    _litcoin_dir(tmp_path)
    lines = list(LITCOIN_ENTITIES)
    lines[4] = bad
    _write(tmp_path / "entities_train.csv", lines)
    with pytest.raises(DataError, match=needle) as e:
        read_litcoin(tmp_path, "train")
    assert "entities_train.csv:5" in str(e.value)


def test_litcoin_comma_separated_file_is_explained(tmp_path):
    _litcoin_dir(tmp_path)
    _write(tmp_path / "abstracts_train.csv", ["abstract_id,title,abstract", "1,a,b"])
    with pytest.raises(DataError, match="comma-separated; LitCoin files are tab-separated"):
        read_litcoin(tmp_path, "train")


# --- hand-written PubTator ------------------------------------------------------------------

PUBTATOR = [
    "111|t|HNF-6 variant V1763M in diabetes.",
    "111|a|The V1763M variant of HNF-6 is associated with type 2 diabetes in patients.",
    "111\t0\t5\tHNF-6\tGeneOrGeneProduct\t 3175",  # leading space
    "111\t14\t20\tV1763M\tSequenceVariant\tp|SUB|V|1763|M",  # pipes in the id
    "111\t24\t32\tdiabetes\tDiseaseOrPhenotypicFeature\tD003920,D003924",  # two ids
    "111\t38\t44\tV1763M\tSequenceVariant\tp|SUB|V|1763|M",
    "111\t56\t61\tHNF-6\tGeneOrGeneProduct\t3175",
    "111\t81\t96\ttype 2 diabetes\tDiseaseOrPhenotypicFeature\tD003924;D003920",  # ';' too
    "111\t100\t108\tpatients\tOrganismTaxon\t-",  # no id
    "111\tAssociation\tp|SUB|V|1763|M\tD003924\tNovel",
    "111\tAssociation\t3175\tD003920",  # no novelty column
    "",
    "222|t|Cisplatin nephrotoxicity.",
    "222|a|Cisplatin induced nephrotoxicity in rats.",
    "222\t0\t9\tCisplatin\tChemicalEntity\tD002945",
    "222\t10\t24\tnephrotoxicity\tDiseaseOrPhenotypicFeature\tD007674",
    "222\t26\t35\tCisplatin\tChemicalEntity\tD002945",
    "222\t44\t58\tnephrotoxicity\tDiseaseOrPhenotypicFeature\tD007674",
    "222\t62\t66\trats\tOrganismTaxon\t10116",
    "222\tPositive_Correlation\tD002945\tD007674\tNo",
]


def test_pubtator_fields(tmp_path):
    docs = read_pubtator(_write(tmp_path / "Train.PubTator", PUBTATOR))
    assert [d.id for d in docs] == ["111", "222"]
    d = docs[0]
    assert d.title == "HNF-6 variant V1763M in diabetes."
    assert d.abstract.startswith("The V1763M variant") and d.abstract.endswith("patients.")
    assert d.mentions[0] == Mention(0, 5, "GeneOrGeneProduct", "HNF-6", ("3175",))
    assert d.mentions[1] == Mention(14, 20, "SequenceVariant", "V1763M", ("p|SUB|V|1763|M",))
    assert d.mentions[2].ids == ("D003920", "D003924")
    assert d.mentions[5] == Mention(81, 96, "DiseaseOrPhenotypicFeature", "type 2 diabetes",
                                    ("D003924", "D003920"))
    assert d.mentions[6] == Mention(100, 108, "OrganismTaxon", "patients", ())
    assert d.relations == [
        Relation("Association", "p|SUB|V|1763|M", "D003924", True),
        Relation("Association", "3175", "D003920", None),
    ]
    assert docs[1].relations == [Relation("Positive_Correlation", "D002945", "D007674", False)]
    assert len(docs[1].mentions) == 5


def test_pubtator_offset_mismatch_names_line_document_mention(tmp_path):
    lines = list(PUBTATOR)
    lines[15] = "222\t43\t57\tnephrotoxicity\tDiseaseOrPhenotypicFeature\tD007674"
    with pytest.raises(DataError) as e:
        read_pubtator(_write(tmp_path / "x.PubTator", lines))
    msg = str(e.value)
    assert "x.PubTator:16" in msg and "document 222" in msg and "'nephrotoxicity'" in msg


def test_pubtator_bad_line_gives_file_line(tmp_path):
    lines = list(PUBTATOR)
    lines[3] = "111\t14\tV1763M"
    with pytest.raises(DataError, match="cannot parse line") as e:
        read_pubtator(_write(tmp_path / "x.PubTator", lines))
    assert "x.PubTator:4" in str(e.value)


def test_pubtator_round_trip_and_relation_lines(tmp_path):
    docs = read_pubtator(_write(tmp_path / "a.PubTator", PUBTATOR))
    out = write_pubtator(docs, tmp_path / "b.PubTator")
    assert read_pubtator(out) == docs
    assert relation_lines("111", docs[0].relations) == [
        "111\tAssociation\tp|SUB|V|1763|M\tD003924\tNovel",
        "111\tAssociation\t3175\tD003920",
    ]
    doc = Document("9", "T.", "x", [], [Relation("Bind", "1", "2", False)])
    assert relation_lines(doc.id, doc.relations) == ["9\tBind\t1\t2\tNo"]


# --- hand-written BioC JSON -----------------------------------------------------------------


def _ann(ann_id: str, etype: str, ident: str, text: str, offset: int) -> dict:
    return {"id": ann_id, "infons": {"type": etype, "identifier": ident}, "text": text,
            "locations": [{"offset": offset, "length": len(text)}]}


def _bioc() -> dict:
    # The abstract passage's stored offset (25) is not where it starts in our text (20).
    return {"source": "PubTator", "documents": [{
        "id": "333",
        "passages": [
            {"offset": 0, "text": "Metformin and AMPK.", "infons": {"type": "title"},
             "annotations": [_ann("0", "ChemicalEntity", "D008687", "Metformin", 0),
                             _ann("1", "GeneOrGeneProduct", "5562, 5563", "AMPK", 14)]},
            {"offset": 25, "text": "Metformin activates AMPK in HepG2 cells.",
             "infons": {"type": "abstract"},
             "annotations": [_ann("2", "ChemicalEntity", "D008687", "Metformin", 25),
                             _ann("3", "GeneOrGeneProduct", "5562,5563", "AMPK", 45),
                             _ann("4", "CellLine", "CVCL_0027", "HepG2", 53)]},
        ],
        "relations": [
            {"id": "R0", "infons": {"type": "Positive_Correlation", "entity1": "D008687",
                                    "entity2": "5562", "novel": "Novel"}},
            {"id": "R1", "infons": {"type": "Association", "entity1": "D008687",
                                    "entity2": "5563"}},
        ],
    }]}


def test_bioc_fields(tmp_path):
    path = tmp_path / "Dev.BioC.JSON"
    path.write_text(json.dumps(_bioc()), encoding="utf-8")
    [d] = read_bioc_json(path)
    assert (d.id, d.title, d.abstract) == (
        "333", "Metformin and AMPK.", "Metformin activates AMPK in HepG2 cells."
    )
    assert d.mentions == [
        Mention(0, 9, "ChemicalEntity", "Metformin", ("D008687",)),
        Mention(14, 18, "GeneOrGeneProduct", "AMPK", ("5562", "5563")),
        Mention(20, 29, "ChemicalEntity", "Metformin", ("D008687",)),
        Mention(40, 44, "GeneOrGeneProduct", "AMPK", ("5562", "5563")),
        Mention(48, 53, "CellLine", "HepG2", ("CVCL_0027",)),
    ]
    assert d.relations == [
        Relation("Positive_Correlation", "D008687", "5562", True, "R0"),
        Relation("Association", "D008687", "5563", None, "R1"),
    ]


def test_bioc_offset_mismatch_names_document_and_annotation(tmp_path):
    data = _bioc()
    data["documents"][0]["passages"][1]["annotations"][1]["locations"][0]["offset"] = 44
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_bioc_json(path)
    msg = str(e.value)
    assert "x.json" in msg and "document 333" in msg and "annotation 3" in msg and "'AMPK'" in msg


def test_bioc_invalid_json_gives_file_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"documents": [\n{"id": 1,,}\n]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.json:2: invalid JSON"):
        read_bioc_json(path)


# --- read_corpus: auto-detection, split names, errors ---------------------------------------


def test_auto_detects_litcoin_splits(tmp_path):
    _litcoin_dir(tmp_path, "train")
    _litcoin_dir(tmp_path, "test", relations=False)
    corpus = read_corpus(tmp_path)
    assert list(corpus) == ["train", "test"]
    assert [d.id for d in corpus["test"]] == ["1001", "1002"]
    assert list(read_corpus(tmp_path / "abstracts_test.csv")) == ["test"]
    assert list(read_corpus(tmp_path, "litcoin")) == ["train", "test"]


def test_auto_detects_pubtator_splits(tmp_path):
    for name in ("Test.PubTator", "Train.PubTator", "Dev.PubTator"):
        _write(tmp_path / name, PUBTATOR)
    corpus = read_corpus(tmp_path)
    assert list(corpus) == ["train", "dev", "test"]
    assert [d.id for d in corpus["dev"]] == ["111", "222"]
    assert list(read_corpus(tmp_path / "Dev.PubTator")) == ["dev"]
    txt = _write(tmp_path / "other" / "bc8_val.txt", PUBTATOR)
    assert list(read_corpus(txt.parent)) == ["dev"]


def test_auto_detects_bioc_splits(tmp_path):
    for name in ("Train.BioC.JSON", "Test.BioC.JSON"):
        (tmp_path / name).write_text(json.dumps(_bioc()), encoding="utf-8")
    (tmp_path / "config.json").write_text('{"not": "bioc"}', encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert list(corpus) == ["train", "test"]
    assert corpus["train"][0].id == "333"


def test_explicit_format_picks_among_several(tmp_path):
    _write(tmp_path / "Train.PubTator", PUBTATOR)
    (tmp_path / "Train.BioC.JSON").write_text(json.dumps(_bioc()), encoding="utf-8")
    assert read_corpus(tmp_path)["train"][0].id == "111"  # auto prefers PubTator
    assert read_corpus(tmp_path, "bioc")["train"][0].id == "333"


def test_read_corpus_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.format='brat'.*auto, litcoin, pubtator, bioc"):
        read_corpus(tmp_path, "brat")
    with pytest.raises(DataError, match=r"data\.path=.*nope does not exist"):
        read_corpus(tmp_path / "nope")
    _write(tmp_path / "notes.txt", ["just some notes"])
    with pytest.raises(DataError, match=r"abstracts_<split>\.csv.*PubTator.*BioC"):
        read_corpus(tmp_path)
    with pytest.raises(DataError, match="looked for PubTator"):
        read_corpus(tmp_path, "pubtator")
    with pytest.raises(DataError, match=r"notes\.txt:1: expected a title line"):
        read_corpus(tmp_path / "notes.txt", "pubtator")


# --- the synthetic sample -------------------------------------------------------------------


def _sentences_with(doc: Document, entity_id: str) -> set[int]:
    """Indexes of the ". "-separated sentences holding a mention of ``entity_id``."""
    bounds, pos = [], 0
    for sentence in doc.text.split(". "):
        bounds.append((pos, pos + len(sentence)))
        pos += len(sentence) + 2
    return {i for i, (a, b) in enumerate(bounds)
            for m in doc.mentions_of(entity_id) if a <= m.start < b}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("relext_sample")
    paths = generate_litcoin_sample(out)
    assert [p.name for p in paths] == [
        f"{kind}_{split}.csv" for split in ("train", "test")
        for kind in ("abstracts", "entities", "relations")
    ]
    return out


def test_sample_reads_back_with_all_classes(sample_dir):
    corpus = read_corpus(sample_dir)  # every mention is checked against the text here
    assert list(corpus) == ["train", "test"]
    assert len(corpus["train"]) == 160 and len(corpus["test"]) == 40
    for docs in corpus.values():
        relations = [r for d in docs for r in d.relations]
        types = [r.type for r in relations]
        assert set(types) == set(RELATION_TYPES)
        assert max(set(types), key=types.count) == "Association"
        assert 0.45 < sum(r.novel is True for r in relations) / len(relations) < 0.75
    train = corpus["train"]
    assert any(len(m.ids) == 2 for d in train for m in d.mentions)
    types = {m.type for d in train for m in d.mentions}
    assert len(types) == 6


def test_sample_has_cross_sentence_relations(sample_dir):
    train = read_litcoin(sample_dir, "train")
    relations = [(d, r) for d in train for r in d.relations]
    cross = [r for d, r in relations
             if not _sentences_with(d, r.id1) & _sentences_with(d, r.id2)]
    assert 0.08 < len(cross) / len(relations) < 0.3


def test_sample_is_deterministic_by_seed(tmp_path, sample_dir):
    again = generate_litcoin_sample(tmp_path / "a")
    for path in again:
        assert path.read_bytes() == (sample_dir / path.name).read_bytes()
    other = generate_litcoin_sample(tmp_path / "b", num_train=5, num_test=3, seed=1)
    assert other[0].read_bytes() != (sample_dir / other[0].name).read_bytes()
