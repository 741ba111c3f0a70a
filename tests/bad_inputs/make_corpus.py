"""Write the bad-input corpus: small valid files of every format the project reads, each broken
one way, plus good-but-unusual files that must be accepted, and ``cases.yaml``, the manifest that
``tests/test_bad_inputs.py`` runs.

    python tests/bad_inputs/make_corpus.py      # rewrites tests/bad_inputs/ (deterministic)

Every case lives in ``tests/bad_inputs/<format>/<case>/``. In the manifest, ``args`` are the
``train.py`` overrides (``{dir}`` is the case's folder), ``expect`` the substrings of the one
error line, ``accept: true`` marks input that must be read without error, and ``needs_fix``
marks a case whose one-line error waits for a change outside the readers (the test expects it
to fail until then).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parents[1]))

from socio_re.tasks.socrates.data.schema import SCHEMA  # noqa: E402

CASES: list[dict] = []


def case(cid: str, files: dict[str, bytes | str], args: list[str], expect: list[str] | None = None,
         why: str = "", **extra) -> None:
    entry = {"id": cid, "why": why, "args": args}
    if expect is not None:
        entry["expect"] = expect
    entry.update(extra)
    CASES.append(entry)
    folder = ROOT / cid
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


# --- relext documents: three small abstracts with offsets computed from the text -------------

DOCS = [
    ("111", "Cisplatin binds BRCA1.",
     "Cisplatin treatment reduced tumours in mice. BRCA1 loss causes breast cancer.",
     [("Cisplatin", "ChemicalEntity", "D002945"), ("BRCA1", "GeneOrGeneProduct", "672"),
      ("mice", "OrganismTaxon", "10090"), ("breast cancer", "DiseaseOrPhenotypicFeature",
                                           "D001943")],
     [("Bind", "D002945", "672", "Novel"),
      ("Positive_Correlation", "672", "D001943", "No")]),
    ("222", "Metformin and AMPK.",
     "Metformin activates AMPK in HepG2 cells and lowers glucose.",
     [("Metformin", "ChemicalEntity", "D008687"), ("AMPK", "GeneOrGeneProduct", "5562"),
      ("HepG2", "CellLine", "CVCL_0027"), ("glucose", "ChemicalEntity", "D005947")],
     [("Positive_Correlation", "D008687", "5562", "Novel")]),
    ("333", "BRAF p.V600E in melanoma.",
     "p.V600E is associated with melanoma and with thyroid cancer.",
     [("BRAF", "GeneOrGeneProduct", "673"), ("p.V600E", "SequenceVariant", "p|SUB|V|600|E"),
      ("melanoma", "DiseaseOrPhenotypicFeature", "D008545"),
      ("thyroid cancer", "DiseaseOrPhenotypicFeature", "D013964")],
     [("Association", "p|SUB|V|600|E", "D008545", "Novel")]),
]


def mentions(title: str, abstract: str, entities) -> list[tuple[int, int, str, str, str]]:
    """(start, end, text, type, id) of every occurrence of each entity's surface form."""
    text = f"{title} {abstract}"
    out = []
    for surface, etype, ident in entities:
        start = text.find(surface)
        while start >= 0:
            out.append((start, start + len(surface), surface, etype, ident))
            start = text.find(surface, start + 1)
    return sorted(out)


def pubtator_lines(docs=DOCS) -> list[str]:
    lines = []
    for pmid, title, abstract, ents, rels in docs:
        lines += [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        lines += [f"{pmid}\t{s}\t{e}\t{t}\t{ty}\t{i}" for s, e, t, ty, i in
                  mentions(title, abstract, ents)]
        lines += [f"{pmid}\t{rt}\t{a}\t{b}\t{nv}" for rt, a, b, nv in rels]
        lines.append("")
    return lines


def litcoin_tables(docs=DOCS) -> dict[str, list[str]]:
    abstracts = ["abstract_id\ttitle\tabstract"]
    entities = ["id\tabstract_id\toffset_start\toffset_finish\ttype\tmention\tentity_ids"]
    relations = ["id\tabstract_id\ttype\tentity_1_id\tentity_2_id\tnovel"]
    for pmid, title, abstract, ents, rels in docs:
        abstracts.append(f"{pmid}\t{title}\t{abstract}")
        for s, e, t, ty, i in mentions(title, abstract, ents):
            entities.append(f"{len(entities) - 1}\t{pmid}\t{s}\t{e}\t{ty}\t{t}\t{i}")
        for rt, a, b, nv in rels:
            relations.append(f"{len(relations) - 1}\t{pmid}\t{rt}\t{a}\t{b}\t{nv}")
    return {"abstracts_train.csv": abstracts, "entities_train.csv": entities,
            "relations_train.csv": relations}


def bioc(docs=DOCS) -> dict:
    out = []
    for pmid, title, abstract, ents, rels in docs:
        anns = [{"id": f"T{k}", "infons": {"type": ty, "identifier": i}, "text": t,
                 "locations": [{"offset": s, "length": e - s}]}
                for k, (s, e, t, ty, i) in enumerate(mentions(title, abstract, ents))]
        cut = len(title) + 1
        out.append({
            "id": pmid,
            "passages": [
                {"offset": 0, "text": title, "infons": {"type": "title"},
                 "annotations": [a for a in anns if a["locations"][0]["offset"] < cut]},
                {"offset": cut, "text": abstract, "infons": {"type": "abstract"},
                 "annotations": [a for a in anns if a["locations"][0]["offset"] >= cut]},
            ],
            "relations": [{"id": f"R{k}", "infons": {"type": rt, "entity1": a, "entity2": b,
                                                     "novel": nv}}
                          for k, (rt, a, b, nv) in enumerate(rels)],
        })
    return {"source": "PubTator", "documents": out}


def split_records(docs=DOCS) -> list[list[dict]]:
    """One fold per document: the related pairs as reference-pipeline instances."""
    folds = []
    for pmid, title, abstract, ents, rels in docs:
        text = f"{title} {abstract}"
        ms = mentions(title, abstract, ents)
        fold = []
        for k, (rt, a, b, nv) in enumerate(rels):
            fold.append({
                "abstract_id": pmid, "relation_id": f"{pmid}-{k}", "entity_a_id": a,
                "entity_b_id": b, "type": rt, "novel": nv, "text": text,
                "entity_a": [[s, e, ty] for s, e, _, ty, i in ms if i == a],
                "entity_b": [[s, e, ty] for s, e, _, ty, i in ms if i == b],
            })
        folds.append(fold)
    return folds


# The same three abstracts with the quirks of real BioRED files: a title ending in a space (the
# abstract's offsets count it), a composite identifier ("D013964; D009369"), a mention without
# an identifier ("-"), a mention nested in another ("cancer" in "breast cancer"), and a relation
# between an identifier mentioned only in the title (BRAF) and one only in the abstract.
QUIRK_DOCS = [
    ("111", "Cisplatin binds BRCA1. ",
     "Cisplatin treatment reduced tumours in mice. BRCA1 loss causes breast cancer.",
     [*DOCS[0][3], ("tumours", "DiseaseOrPhenotypicFeature", "-"),
      ("cancer", "DiseaseOrPhenotypicFeature", "D009369")],
     DOCS[0][4]),
    DOCS[1],
    ("333", "BRAF p.V600E in melanoma.",
     "p.V600E is associated with melanoma and with thyroid cancer.",
     [("BRAF", "GeneOrGeneProduct", "673"), ("p.V600E", "SequenceVariant", "p|SUB|V|600|E"),
      ("melanoma", "DiseaseOrPhenotypicFeature", "D008545"),
      ("thyroid cancer", "DiseaseOrPhenotypicFeature", "D013964; D009369")],
     [("Association", "p|SUB|V|600|E", "D008545", "Novel"),
      ("Association", "673", "D013964", "No")]),
]


def ikraph_records(docs=DOCS) -> list[list[dict]]:
    """One fold per document in the seed (iKraph) pipeline's own record format: abstract_id a
    number, relation_id "True.<pmid>.<k>" / "False.<pmid>.<n>", novel a JSON boolean (false
    for NOT pairs); the whole abstract as the text."""
    folds, false_n = [], 0
    for pmid, title, abstract, ents, rels in docs:
        ms = mentions(title, abstract, ents)
        ids = sorted({i for *_, i in ms})
        gold = {frozenset((a, b)): (rt, nv, k) for k, (rt, a, b, nv) in enumerate(rels)}
        fold = []
        for x, a in enumerate(ids):
            for b in ids[x + 1:]:
                rt, nv, k = gold.get(frozenset((a, b)), ("NOT", "No", None))
                if k is None:
                    rid, false_n = f"False.{pmid}.{false_n}", false_n + 1
                else:
                    rid = f"True.{pmid}.{k}"
                fold.append({
                    "abstract_id": int(pmid), "relation_id": rid, "entity_a_id": a,
                    "entity_b_id": b, "type": rt, "novel": nv == "Novel",
                    "text": f"{title} {abstract}",
                    "entity_a": [[s, e, ty] for s, e, _, ty, i in ms if i == a],
                    "entity_b": [[s, e, ty] for s, e, _, ty, i in ms if i == b],
                })
        folds.append(fold)
    return folds


def text(lines: list[str]) -> str:
    return "\n".join(lines).rstrip("\n") + "\n"


def jdump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def replace_line(lines: list[str], index: int, new: str) -> list[str]:
    out = list(lines)
    out[index] = new
    return out


def line_of(lines: list[str], needle: str) -> int:
    """1-based number of the first line containing ``needle``."""
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


# --- SocSci210 rows ---------------------------------------------------------------------------

STIMULUS = ("How much do you support the new park? Only return an integer from 1 to 7, "
            "nothing else.")


def socsci_rows(n_studies: int = 10, per_study: int = 2) -> list[dict]:
    rows = []
    for s in range(n_studies):
        for p in range(per_study):
            age = 25 + 7 * s + p
            rows.append({
                "sample_id": len(rows), "participant": p,
                "demographic": {"age": age, "gender": "Female" if p else "Male"},
                "stimuli": STIMULUS,
                "prompt": f"Profile:\n- Age: {age}\n\n{STIMULUS}",
                "reasoning": "", "response": 1 + (len(rows) % 7),
                "condition_num": 1, "task_num": 1, "study_id": f"S{s:02d}",
            })
    return rows


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def parquet(rows: list[dict], schema=SCHEMA) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    return sink.getvalue().to_pybytes()


def build() -> None:
    # Always a fresh tree: a renamed case must not leave its old folder behind.
    for child in ROOT.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
    CASES.clear()
    pubtator_cases()
    bioc_cases()
    litcoin_cases()
    split_file_cases()
    socsci_cases()
    yaml_cases()
    override_cases()
    header = ("# Generated by tests/bad_inputs/make_corpus.py (edit there, then run it); read by "
              "tests/test_bad_inputs.py.\n# args: train.py overrides ({dir} = the case's folder); "
              "expect: substrings of the one error line;\n# accept: input that must be read "
              "without error; needs_fix: an error line that still waits for a fix.\n")
    (ROOT / "cases.yaml").write_text(
        header + yaml.safe_dump({"cases": CASES}, sort_keys=False, width=100, allow_unicode=True,
                                default_flow_style=None),
        encoding="utf-8")


# --- PubTator ---------------------------------------------------------------------------------

BIORED = ["task=relext", "data=biored", "data.train_splits=[train]"]


def pubtator_cases() -> None:
    good = pubtator_lines()
    file_arg = "data.path={dir}/Train.PubTator"

    def bad(name, lines, expect, why, args=()):
        case(f"pubtator/{name}", {"Train.PubTator": text(lines)}, [*BIORED, file_arg, *args],
             expect, why)

    bad("no_title", good[2:], ["Train.PubTator:1:", "expected a title line"],
        "the file starts with a mention line: title and abstract lines cut off")
    n = line_of(good, "\tmice\t")
    s, e, *_ = good[n - 1].split("\t")[1:]
    bad("offsets_outside_text", replace_line(good, n - 1, good[n - 1].replace(
        f"\t{s}\t{e}\t", "\t900\t904\t")), [f"Train.PubTator:{n}:", "outside the document text"],
        "a mention's offsets point past the end of the text")
    bad("mention_text_mismatch", replace_line(good, n - 1, good[n - 1].replace(
        f"\t{s}\t{e}\t", f"\t{int(s) + 1}\t{int(e) + 1}\t")),
        [f"Train.PubTator:{n}:", "does not match the text"], "offsets shifted by one")
    bad("duplicate_document", good + good[:3], [f"Train.PubTator:{len(good) + 1}:",
                                                 "document 111 appears twice"],
        "the first document's block again at the end")
    r = line_of(good, "\tBind\t")
    bad("unknown_relation_type", replace_line(good, r - 1, good[r - 1].replace("Bind", "Causes")),
        [f"Train.PubTator:{r}:", "relation type 'Causes'"], "a relation type outside the 8")
    bad("truncated", [*good[:r - 1], good[r - 1][:12]],
        [f"Train.PubTator:{r}:", "cannot parse line"], "the file ends in the middle of a line")
    bad("second_title", [*good[:2], "111|t|Another title.", *good[2:]],
        ["Train.PubTator:3:", "second title line"], "two title lines for one PMID")
    latin = text(good).encode("utf-8").replace(b"tumours", "tumeurs\u00e9".encode("latin-1"))
    case("pubtator/not_utf8", {"Train.PubTator": latin}, [*BIORED, file_arg],
         ["Train.PubTator:2:", "not UTF-8"], "saved as Latin-1 (an e-acute in line 2)")
    case("pubtator/empty_file", {"Train.PubTator": b""}, [*BIORED, file_arg],
         ["Train.PubTator", "no documents"], "0 bytes")
    dev = pubtator_lines(DOCS[:1])
    case("pubtator/document_in_train_and_dev",
         {"Train.PubTator": text(good), "Dev.PubTator": text(dev)},
         ["task=relext", "data=biored", "data.path={dir}", "data.num_folds=2"],
         ["document_in_train_and_dev", "document 111 is in both the 'train' and the 'dev'"],
         "the same abstract in Train.PubTator and Dev.PubTator (read together by default)")
    r = line_of(good, "\tBind\t")
    bad("relation_unmentioned_id", replace_line(good, r - 1, good[r - 1].replace("672", "673")),
        [f"Train.PubTator:{r}:", "document 111", "names identifier '673', which no mention"],
        "a relation naming an identifier that no mention of its document carries")
    bad("relation_no_id", replace_line(good, r - 1, good[r - 1].replace("672", "-")),
        [f"Train.PubTator:{r}:", "names '-', which means 'no identifier'"],
        "a relation naming '-', the placeholder of a mention without an identifier")
    case("pubtator/good_quirks", {"Train.PubTator": text(pubtator_lines(QUIRK_DOCS))},
         [*BIORED, file_arg, "data.num_folds=2"], accept=True,
         why="a title ending in a space, a composite identifier (';'), a '-' identifier, nested "
             "mentions, a relation between a title-only and an abstract-only identifier")
    # Accepted: BOM, CRLF line ends, trailing blank lines, a U+2028 and non-ASCII in the text.
    odd = pubtator_lines([(pmid, title, abstract.replace("tumours", "tumours\u2028(\u00e9)"),
                           ents, rels) for pmid, title, abstract, ents, rels in DOCS])
    case("pubtator/good_bom_crlf", {"Train.PubTator": "\ufeff" + "\r\n".join(odd) + "\r\n\r\n\r\n"},
         [*BIORED, file_arg, "data.num_folds=2"], accept=True,
         why="UTF-8 BOM, CRLF, trailing blank lines, U+2028 inside an abstract")


# --- BioC JSON --------------------------------------------------------------------------------


def bioc_cases() -> None:
    args = [*BIORED, "data.format=bioc", "data.path={dir}/Train.BioC.JSON"]

    def bad(name, content, expect, why):
        case(f"bioc/{name}", {"Train.BioC.JSON": content}, args, expect, why)

    good = jdump(bioc())
    cut = good[: len(good) // 2]
    bad("truncated", cut, [f"Train.BioC.JSON:{cut.count(chr(10)) + 1}:", "invalid JSON"],
        "the file ends half-way")
    bad("not_bioc", jdump([1, 2]), ["Train.BioC.JSON", "not BioC JSON"],
        "a JSON list, not an object with 'documents'")
    d = bioc()
    d["documents"][0]["passages"][1]["annotations"][0]["locations"][0]["offset"] += 2
    bad("annotation_offset_mismatch", jdump(d),
        ["Train.BioC.JSON", "document 111, annotation", "does not match"],
        "an annotation's offset moved by two characters")
    d = bioc()
    del d["documents"][1]["passages"]
    bad("missing_passages", jdump(d), ["Train.BioC.JSON", "document 222", "'passages'"],
        "a document without its passages")
    d = bioc()
    d["documents"][2]["passages"][1]["offset"] = "twenty"
    bad("offset_not_integer", jdump(d),
        ["Train.BioC.JSON", "document 333", "'offset' must be an integer"],
        "a passage offset written as a word")
    d = bioc()
    d["documents"][0]["relations"][0]["infons"]["novel"] = "Maybe"
    bad("bad_novelty", jdump(d), ["Train.BioC.JSON", "document 111, relation R0", "Novel"],
        "novelty neither Novel nor No")
    d = bioc()
    d["documents"].append(bioc()["documents"][0])
    bad("duplicate_document", jdump(d), ["Train.BioC.JSON", "document 111 appears twice"],
        "the first document again at the end")
    latin = good.encode("utf-8").replace(b"tumours", "tumeurs\u00e9".encode("latin-1"))
    bad("not_utf8", latin, [f"Train.BioC.JSON:{line_of(good.splitlines(), 'tumours')}:",
                            "not UTF-8"], "saved as Latin-1")
    bad("empty_file", b"", ["Train.BioC.JSON", "empty"], "0 bytes")
    d = bioc()
    d["documents"][1]["relations"] = 5
    bad("relations_not_a_list", jdump(d), ["Train.BioC.JSON", "document 222", "'relations'"],
        "a number where the list of relations belongs")
    d = bioc()
    d["documents"][2]["passages"][1]["annotations"][0]["locations"][0]["offset"] = 900
    bad("location_in_no_passage", jdump(d),
        ["Train.BioC.JSON", "document 333, annotation", "lies in no passage"],
        "an annotation's offset past the end of every passage")
    d = bioc()
    d["documents"][0]["relations"][0]["infons"]["entity2"] = "673"
    bad("relation_unmentioned_id", jdump(d),
        ["Train.BioC.JSON", "document 111, relation R0", "names identifier '673', which no "
         "mention"], "a relation naming an identifier that no mention of its document carries")
    d = bioc(QUIRK_DOCS)
    first = d["documents"][0]
    title, abstract = first["passages"]
    # an abstract annotation filed under the title passage (found by its offset)
    title["annotations"].append(abstract["annotations"].pop(0))
    # a discontinuous mention, "BRCA1 ... cancer" (two locations): one mention over both
    brca1 = next(a for a in abstract["annotations"] if a["text"] == "BRCA1")
    cancer = next(a for a in abstract["annotations"] if a["text"] == "cancer")
    abstract["annotations"].append({
        "id": "T99", "infons": {"type": "DiseaseOrPhenotypicFeature", "identifier": "D001943"},
        "text": "BRCA1 cancer", "locations": brca1["locations"] + cancer["locations"]})
    # a relation kept with the title passage
    title["relations"] = [first["relations"].pop()]
    case("bioc/good_quirks", {"Train.BioC.JSON": jdump(d)}, [*args, "data.num_folds=2"],
         accept=True, why="the PubTator quirks plus an annotation filed under the other "
         "passage, a discontinuous mention (two locations) and a passage-level relation")
    case("bioc/good_bom_crlf", {"Train.BioC.JSON": "\ufeff" + good.replace("\n", "\r\n")},
         [*args, "data.num_folds=2"], accept=True, why="UTF-8 BOM and CRLF line ends")


# --- LitCoin TSV ------------------------------------------------------------------------------

LITCOIN = ["task=relext", "data=litcoin", "data.path={dir}"]


def litcoin_cases() -> None:
    good = litcoin_tables()

    def bad(name, changes: dict[str, list[str] | bytes | None], expect, why, args=()):
        files = {k: text(v) for k, v in good.items()}
        for k, v in changes.items():
            if v is None:
                del files[k]
            else:
                files[k] = v if isinstance(v, bytes) else text(v)
        case(f"litcoin/{name}", files, [*LITCOIN, *args], expect, why)

    ents, rels, abss = good["entities_train.csv"], good["relations_train.csv"], \
        good["abstracts_train.csv"]
    bad("missing_entities_file", {"entities_train.csv": None},
        ["entities_train.csv does not exist"], "abstracts without their entities file")
    bad("comma_separated", {"abstracts_train.csv": [line.replace("\t", ",") for line in abss]},
        ["abstracts_train.csv:1:", "comma-separated"], "saved as comma-separated values")
    bad("truncated_entities", {"entities_train.csv": [*ents[:5], ents[5][:9]]},
        ["entities_train.csv:6:", "expected 7 tab-separated columns"],
        "the entities file ends in the middle of a row")
    bad("offset_not_integer", {"entities_train.csv": replace_line(
        ents, 2, "\t".join([*ents[2].split("\t")[:2], "ten", *ents[2].split("\t")[3:]]))},
        ["entities_train.csv:3:", "offset_start must be an integer"], "an offset written as a word")
    fields = ents[3].split("\t")
    fields[2], fields[3] = str(int(fields[2]) + 1), str(int(fields[3]) + 1)
    bad("offset_mismatch", {"entities_train.csv": replace_line(ents, 3, "\t".join(fields))},
        ["entities_train.csv:4:", "does not match the text"], "offsets shifted by one")
    bad("duplicate_abstract", {"abstracts_train.csv": [*abss, abss[1]]},
        ["abstracts_train.csv:5:", "abstract 111 appears twice"], "the first abstract again")
    stray = f"{len(ents) - 1}\t999\t0\t4\tChemicalEntity\tCisp\tD002945"
    bad("unknown_abstract_id", {"entities_train.csv": [*ents, stray]},
        [f"entities_train.csv:{len(ents) + 1}:", "abstract_id 999 is not in the abstracts file"],
        "an entity of an abstract the abstracts file lacks")
    bad("unknown_relation_type", {"relations_train.csv": replace_line(
        rels, 2, rels[2].replace("Positive_Correlation", "Causes"))},
        ["relations_train.csv:3:", "relation type 'Causes'"], "a relation type outside the 8")
    bad("bad_novelty", {"relations_train.csv": replace_line(rels, 1, rels[1].replace(
        "Novel", "Maybe"))}, ["relations_train.csv:2:", "Novel"], "novelty neither Novel nor No")
    bad("relation_unmentioned_id", {"relations_train.csv": replace_line(
        rels, 1, rels[1].replace("\t672\t", "\t673\t"))},
        ["relations_train.csv:2:", "abstract 111, relation row 0", "names identifier '673'"],
        "a relation naming an identifier that no mention of its abstract carries")
    bad("not_utf8", {"abstracts_train.csv": text(abss).encode("utf-8").replace(
        b"tumours", "tumeurs\u00e9".encode("latin-1"))},
        ["abstracts_train.csv:2:", "not UTF-8"], "saved as Latin-1")
    bad("empty_abstracts", {"abstracts_train.csv": b""}, ["abstracts_train.csv", "empty"],
        "0 bytes")
    bad("too_few_documents", {}, ["fewer than data.num_folds=5"],
        "3 abstracts cannot fill 5 folds (the default data.num_folds)")
    # The sample config (task=relext alone) pointed at the user's own folder reads it (it used
    # to generate the sample over it): here a broken one, named in the error.
    case("litcoin/sample_config_own_folder", {
        "abstracts_train.csv": text(abss), "relations_train.csv": text(rels),
        "entities_train.csv": text(replace_line(ents, 3, "\t".join(fields)))},
        ["task=relext", "data.path={dir}"], ["entities_train.csv:4:", "does not match"],
        "data.path at the user's folder without data=litcoin: read, not overwritten")
    extra = {k: [line + ("\tnote" if i == 0 else "\tx") for i, line in enumerate(v)]
             for k, v in good.items()}
    case("litcoin/good_bom_crlf_extra_column",
         {k: "\ufeff" + "\r\n".join(v) + "\r\n\r\n\r\n" for k, v in extra.items()},
         [*LITCOIN, "data.num_folds=2"], accept=True,
         why="UTF-8 BOM, CRLF, trailing blank lines, an extra column in every file")


# --- split_k.json -----------------------------------------------------------------------------

SPLITS = ["task=relext", "data=relext-splits", "data.path={dir}"]


def split_file_cases() -> None:
    folds = split_records()
    k = len(folds)
    args = [*SPLITS, f"data.num_folds={k}"]

    def files(changes: dict[str, str | bytes | None]) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {f"split_{i}.json": jdump(f) for i, f in enumerate(folds)}
        for name, content in changes.items():
            if content is None:
                del out[name]
            else:
                out[name] = content
        return out

    def bad(name, changes, expect, why, extra_args=()):
        case(f"split_files/{name}", files(changes), [*args, *extra_args], expect, why)

    good1 = jdump(folds[1])
    cut = good1[: len(good1) * 2 // 3]
    bad("truncated", {"split_1.json": cut},
        [f"split_1.json:{cut.count(chr(10)) + 1}:", "invalid JSON"], "the file ends early")
    bad("not_a_list", {"split_0.json": jdump({"records": folds[0]})},
        ["split_0.json", "JSON list of records"], "an object instead of a list")
    rec = [dict(r) for r in folds[2]]
    del rec[0]["text"]
    bad("missing_field", {"split_2.json": jdump(rec)}, ["split_2.json, record 0",
                                                        "missing field(s) text"],
        "a record without its text")
    rec = [dict(r) for r in folds[0]]
    rec[1]["type"] = "Causes"
    bad("unknown_type", {"split_0.json": jdump(rec)}, ["split_0.json, record 1", "'Causes'"],
        "a relation type outside the labels")
    rec = [dict(r) for r in folds[1]]
    rec[0]["entity_a"] = [[0, 999, "ChemicalEntity"]]
    bad("span_outside_text", {"split_1.json": jdump(rec)},
        ["split_1.json, record 0", "outside text"], "an entity span past the end of the text")
    bad("numbering_gap", {"split_2.json": None, "split_3.json": jdump(folds[2])},
        ["without gaps", "[0, 1, 3]"], "split_0, split_1, split_3: split_2 missing")
    bad("abstract_in_two_folds", {"split_1.json": jdump(folds[1] + folds[0][:1])},
        ["abstract 111 appears in split_0.json and split_1.json"],
        "one abstract's pairs in two folds")
    case("split_files/fewer_files_than_folds", files({}), [*SPLITS, "fold=4"],
         ["holds 3 split files", "data.num_folds=3"],
         "3 split files, default data.num_folds=5 and fold=4: no split_4.json to validate on")
    bad("not_utf8", {"split_0.json": jdump(folds[0]).encode("utf-8").replace(
        b"tumours", "tumeurs\u00e9".encode("latin-1"))},
        [f"split_0.json:{line_of(jdump(folds[0]).splitlines(), 'tumours')}:", "not UTF-8"],
        "saved as Latin-1")
    bad("test_file_empty", {"test.json": b""}, ["test.json", "empty"], "an empty test.json")
    case("split_files/path_is_a_file", files({}), [*SPLITS, "data.path={dir}/split_0.json"],
         ["split_0.json is a file", "directory"], "data.path at one split file, not its folder")
    rec = [dict(r) for r in folds[0]]
    rec[0]["novel"] = "Maybe"
    bad("bad_novelty", {"split_0.json": jdump(rec)},
        ["split_0.json, record 0", "novel 'Maybe' is not true, false or null"],
        "novelty neither a JSON boolean nor 'Novel' / 'No'")
    rec = [dict(r) for r in folds[2]]
    rec[0]["entity_b"] = []
    bad("empty_entity_spans", {"split_2.json": jdump(rec)},
        ["split_2.json, record 0", "entity_b is empty"], "a record with no span of entity B")
    ikraph = ikraph_records()
    # As iKraph's multi_sentence_split.py leaves its folder: json.dump(indent=4), no newline at
    # the end, train_all.json and all_abstracts_600.json beside the split files, no test.json.
    ik_files = {f"split_{i}.json": json.dumps(f, indent=4) for i, f in enumerate(ikraph)}
    ik_files["train_all.json"] = json.dumps([r for f in ikraph for r in f], indent=4)
    ik_files["all_abstracts_600.json"] = json.dumps(
        {"all_pmids": [111, 222, 333], **{str(i): [f[0]["abstract_id"]] for i, f in
                                          enumerate(ikraph)}}, indent=4)
    case("split_files/good_ikraph", ik_files, args, accept=True,
         why="the seed iKraph pipeline's own files: novel as a JSON boolean, relation_id "
             "True.<pmid>.<k> / False.<pmid>.<n>, numeric abstract_id, its extra JSON files")
    case("split_files/good_bom_crlf",
         {n: ("\ufeff" + c.replace("\n", "\r\n") if isinstance(c, str) else c)
          for n, c in files({}).items()}, args, accept=True, why="UTF-8 BOM and CRLF line ends")


# --- SocSci210 parquet / jsonl ----------------------------------------------------------------

SOCSCI = ["data=socsci210", "data.path={dir}"]


def socsci_cases() -> None:
    rows = socsci_rows()

    def bad(name, files, expect, why, args=SOCSCI):
        case(f"socsci/{name}", files, list(args), expect, why)

    good = jsonl(rows).splitlines()
    bad("jsonl_invalid_json", {"rows.jsonl": text(replace_line(good, 4, good[4][:-9]))},
        ["rows.jsonl", "line 5 is not valid JSON"], "line 5 cut short")
    bad("jsonl_missing_column",
        {"rows.jsonl": jsonl([{k: v for k, v in r.items() if k != "study_id"} for r in rows])},
        ["rows.jsonl", "missing required column(s) study_id"], "no study_id in any row")

    def with_row(i, **change):
        out = [dict(r) for r in rows]
        out[i].update(change)
        return out

    bad("jsonl_non_integer_response", {"rows.jsonl": jsonl(with_row(6, response="seven"))},
        ["rows.jsonl line 7 (non_integer_response)", "data.max_malformed_fraction"],
        "one answer of 20 is a word: 5% malformed, above the 1% default")
    bad("jsonl_empty_prompt", {"rows.jsonl": "\n" + jsonl(with_row(2, prompt="   "))},
        ["rows.jsonl line 4 (empty_prompt)"], "a blank prompt (after a blank first line)")
    bad("jsonl_response_outside_int64", {"rows.jsonl": jsonl(with_row(0, response=1e30))},
        ["rows.jsonl line 1 (non_integer_response)"], "an answer too large for an integer")
    bad("jsonl_not_utf8", {"rows.jsonl": jsonl(rows).encode("utf-8").replace(
        b"S01", "S\u00e91".encode("latin-1"), 1)},
        [f"rows.jsonl:{line_of(good, 'S01')}:", "not UTF-8"], "saved as Latin-1")
    bad("jsonl_empty_file", {"rows.jsonl": b""}, ["rows.jsonl", "the file is empty"], "0 bytes")
    bad("json_not_objects", {"rows.json": jdump([rows[0], 7])},
        ["rows.json", "record index 1 holds a JSON int"], "a number among the records")
    full = parquet(rows)
    bad("parquet_truncated", {"rows.parquet": full[: len(full) // 2]},
        ["cannot read data file", "rows.parquet"], "the file cut in half")
    schema = pa.schema([f for f in SCHEMA if f.name != "response"])
    bad("parquet_missing_column", {"rows.parquet": parquet(
        [{k: v for k, v in r.items() if k != "response"} for r in rows], schema)},
        ["rows.parquet", "missing required column(s) response"], "no response column")
    schema = pa.schema([pa.field("response", pa.string()) if f.name == "response" else f
                        for f in SCHEMA])
    srows = [dict(r, response=str(r["response"])) for r in rows]
    srows[3]["response"] = "n/a"
    bad("parquet_response_strings", {"rows.parquet": parquet(srows, schema)},
        ["rows.parquet row index 3 (non_integer_response)"],
        "response stored as text, one of them 'n/a'")
    bad("parquet_zero_rows", {"rows.parquet": parquet([])}, ["rows.parquet holds 0 rows"],
        "the schema and no rows")
    bad("no_data_files", {"notes.txt": "the data is elsewhere\n"},
        ["contains no .parquet, .jsonl or .json files"], "a folder without data files")
    bad("wrong_suffix", {"rows.csv": "sample_id,prompt\n1,hello\n"},
        ["rows.csv", "use .parquet, .jsonl or .json"], "a CSV file",
        args=["data=socsci210", "data.path={dir}/rows.csv"])
    bad("official_split_wrong_layout", {
        "rows.jsonl": jsonl(rows),
        "metadata/participant_mapping.json": jdump({"train": ["S00"], "test": ["S01"]})},
        ["participant_mapping.json", "unexpected layout"], "keys other than seen/unseen",
        args=[*SOCSCI, "data.split.kind=official"])
    # The known bug: the default (sample) config with data.path at a file used to end in a
    # NotADirectoryError traceback; the file is now read, and its bad row named.
    bad("sample_config_own_file", {"rows.jsonl": jsonl(with_row(1, response=None))},
        ["rows.jsonl line 2 (missing_response)"],
        "python train.py data.path=FILE: the sample config, the user's own file",
        args=["data.path={dir}/rows.jsonl"])
    odd = [dict(r, extra_note="x") for r in rows]
    odd[0]["prompt"] += "\u2028(\u00e9)"
    case("socsci/good_jsonl_bom_crlf_extra_key",
         {"rows.jsonl": "\ufeff" + jsonl(odd).replace("\n", "\r\n") + "\r\n\r\n"},
         [*SOCSCI, "data.split.kind=random"], accept=True,
         why="UTF-8 BOM, CRLF, trailing blank lines, an extra key, U+2028 inside a prompt")
    schema = SCHEMA.append(pa.field("extra", pa.string()))
    case("socsci/good_parquet_extra_column",
         {"rows.parquet": parquet([dict(r, extra="x") for r in rows], schema)},
         [*SOCSCI, "data.split.kind=random"], accept=True, why="an extra column")
    case("socsci/good_sample_config_own_file", {"rows.jsonl": jsonl(rows)},
         ["data.path={dir}/rows.jsonl", "data.split.kind=random"], accept=True,
         why="the sample config with data.path at the user's file: read, never overwritten")


# --- YAML experiment files and overrides ------------------------------------------------------


def yaml_cases() -> None:
    def exp(name, body, expect, why, latin1=False, **extra):
        content = "# @package _global_\n" + body
        case(f"yaml/{name}", {f"experiment/{name}.yaml": content.encode(
            "latin-1" if latin1 else "utf-8")},
             ["--config-dir={dir}", f"experiment={name}"], expect, why, **extra)

    exp("unparsable", "trainer:\n  learning_rate: [1e-4\n",
        ["unparsable.yaml:3", "YAML syntax error"], "an unclosed [ (a YAML syntax error)")
    exp("not_utf8", "tags: [caf\u00e9]\n",
        ["not_utf8.yaml", "UTF-8"], "saved as Latin-1", latin1=True)
    exp("list_not_mapping", "- a\n- b\n", ["experiment/list_not_mapping"],
        "a YAML list where a mapping of settings belongs")
    exp("section_not_a_mapping", "trainer: 3\n", ["trainer=3"],
        "a number where the trainer section belongs")
    exp("unknown_key", "trainer:\n  learing_rate: 1e-4\n",
        ["unknown key 'trainer.learing_rate'"], "a misspelt key")
    exp("wrong_type", "trainer:\n  learning_rate: fast\n",
        ["trainer.learning_rate='fast'", "a number"], "a word for a number")
    exp("unknown_group_option", "defaults:\n  - override /model: gpt5\n",
        ["model=gpt5 is not a known option"], "a model config that does not exist")


def override_cases() -> None:
    def ov(name, args, expect, why):
        case(f"overrides/{name}", {}, args, expect, why)

    ov("unknown_key", ["trainer.learing_rate=1e-4"], ["unknown key 'trainer.learing_rate'"],
       "a misspelt key")
    ov("wrong_type", ["trainer.num_train_epochs=many"], ["trainer.num_train_epochs"],
       "a word for a number")
    ov("unknown_group_option", ["data=socsci300"], ["data=socsci300 is not a known option"],
       "a data config that does not exist")
    ov("fold_out_of_range", ["task=relext", "fold=7"], ["fold=7", "0..4"],
       "fold 7 of 5")
    ov("fold_for_socrates", ["fold=2"], ["fold=2", "null for task=socrates"],
       "socrates has no folds")
    ov("unparsable", ["trainer.learning_rate=[1e-4"], ["cannot parse the override"],
       "an unclosed [")
    ov("value_for_a_group", ["trainer=3"], ["Config group override", "trainer=default"],
       "a value where a group's option name belongs")


if __name__ == "__main__":
    build()
    bad = sum(not c.get("accept") for c in CASES)
    print(f"wrote {len(CASES)} cases ({bad} bad, {len(CASES) - bad} accepted) under {ROOT}")
