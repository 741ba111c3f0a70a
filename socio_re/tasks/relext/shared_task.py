"""Relation scores as the BioRED / BioCreative VIII (BC8) shared task computes them.

The instance metrics of :mod:`socio_re.tasks.relext.metrics` score every candidate pair the
project built. The shared task scores *relations*: what a system lists for a document, matched
against what the curators listed, whatever pairs the system considered. This module does the
latter, on plain :class:`RelationRecord` values, so it scores the project's in-memory
predictions and any LitCoin / PubTator file alike (``python -m socio_re.cli.score_relext``).

Definitions (each one says where it comes from):

1. **A relation is document-level**: (document id, identifier 1, identifier 2), plus its type
   and its novelty (Novel / No). Mentions and offsets play no part (BioRED, Luo et al. 2022;
   BC8 overview, Islamaj et al. 2024, Database baae069).
2. **Four settings**, micro-averaged over all documents (BC8 overview; NCBI's BioREDirect
   ``src/evaluation.py`` computes the same four, there ``pair``, ``rel``, ``pair_nov`` and
   ``rel_nov``; its ``all`` adds direction, which BC8 did not rank. It scores one label per
   candidate pair, so each pair is one item there, as each distinct key is one item here):

   ========================  ================================================
   ``entity_pair``           the two identifiers (any type, any novelty)
   ``pair_type``             identifiers + relation type
   ``pair_novelty``          identifiers + novelty (type ignored)
   ``pair_type_novelty``     identifiers + type + novelty ("all" in BC8)
   ========================  ================================================

   A prediction is a true positive when a gold relation of the same document agrees on every
   field the setting compares. A wrong type (or novelty) is therefore one FP *and* one FN in
   that setting, exactly as in BioREDirect's ``f1_score_with_details`` (a mismatch on a
   positive counts ``fn`` for the gold side and ``fp`` for the predicted side). Precision
   TP/(TP+FP), recall TP/(TP+FN), F1 2PR/(P+R); each is 0 where its denominator is 0.
3. **Pairs are unordered**: (A, B) and (B, A) are the same relation. BioRED does not annotate
   direction (maintainer's answer in ncbi/BioRED issue #4: "the BioRED corpus did not
   distinguish the directionality between entity pairs"); the NCBI PubTator evaluator
   (yfpeng/pengyifan-pubtator ``PubTatorEval.java``) matches concept ids in either order.
   A pair of an identifier with itself is kept as it is.
4. **Set semantics; duplicates count once**: each side is a *set* of keys per setting. The
   BioREDirect PubTator reader stores a document's relations in a dict keyed by (id1, id2),
   and the PubTator evaluator marks a prediction correct when any gold relation matches it,
   so a repeated prediction neither earns a second TP nor costs an FP. Here a line repeated
   verbatim (or with the ids swapped) counts once in every setting. A pair predicted with two
   *different* types is one pair prediction in ``entity_pair`` but two predictions in
   ``pair_type`` (at most one can be right): listing every type for a pair buys recall with
   precision, never for free. (BioREDirect keeps the last line instead; a set does not depend
   on line order.) Such pairs are counted in ``pred_conflicting_pairs``.
5. **Identifiers are compared exactly, after trimming whitespace; case matters.** Both public
   evaluators compare id strings with plain equality. Lower-casing would be wrong for ids whose
   case carries meaning (variant ids such as ``p|SUB|V|600|E``).
6. **Composite identifiers** (``D001,D002`` or ``D001;D002``: one entity normalised to
   several concepts) are one entity whose identity is the *set* of its parts: separators
   (``,`` and ``;``, as BioRED uses both and BioREDirect splits on both), spaces and order are
   formatting, so ``D002; D001`` equals ``D001,D002``. A composite id is never expanded into
   one relation per part: that would let one predicted line earn several TPs. It matches a
   gold relation only if the gold relation names the same set. (The public code found does
   not say how BC8 treats this; gold relations in BioRED name single identifiers.)
   An empty identifier or PubTator's ``-`` placeholder is an error.
7. **Documents absent from gold**: by default a predicted relation of a document the gold
   set does not contain is a false positive like any other (it matches nothing), so a wrong
   document id is never hidden. ``unknown_documents="ignore"`` scores only the gold
   documents, for a test set padded with unannotated documents. Both are reported
   (``pred_unknown_doc_relations``). The gold document set is every document the gold source
   lists (title lines of a PubTator file, the abstracts of a corpus), or the documents of its
   relations for a relations-only file.
8. **Novelty must be known on both sides.** A prediction without novelty (a PubTator line
   without its fifth column, an empty ``novel`` cell) is never right in the two novelty
   settings. When any *gold* relation lacks novelty (LitCoin's test split has no ``novel``
   column) the novelty settings are not scored: their keys are left out and
   ``gold_unknown_novelty`` says how many relations lacked it.

Not implemented: BioREDirect's "relaxed" variants (Positive/Negative_Correlation accepted for
Association) and direction ("Subject:") scoring, which BC8 did not rank.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from socio_re.errors import DataError
from socio_re.tasks.relext.data.readers.pubtator import check_relation_type, parse_novel

SETTINGS = ("entity_pair", "pair_type", "pair_novelty", "pair_type_novelty")
NOVELTY_SETTINGS = ("pair_novelty", "pair_type_novelty")
SETTING_LABELS = {
    "entity_pair": "entity pair",
    "pair_type": "pair + type",
    "pair_novelty": "pair + novelty",
    "pair_type_novelty": "all (pair + type + novelty)",
}
STATS = ("precision", "recall", "f1", "tp", "fp", "fn")
UNKNOWN_DOCUMENTS = ("count", "ignore")

_ID_SEPARATORS = re.compile(r"[,;]")
_NO_ID = {"", "-"}


@dataclass(frozen=True)
class RelationRecord:
    """One listed relation: the document, its type, the two identifiers, its novelty
    (True = Novel, False = No, None = not given) and where it came from (``file:line``, for
    error messages)."""

    doc_id: str
    type: str
    id1: str
    id2: str
    novel: bool | None = None
    where: str | None = None


def canonical_id(raw: str, where: str | None = None) -> str:
    """The identity of an entity id: whitespace trimmed; a composite id's parts sorted and
    joined with ``,`` (``"D002; D001"`` -> ``"D001,D002"``). Empty or ``-``: DataError."""
    parts = sorted({p.strip() for p in _ID_SEPARATORS.split(str(raw))} - _NO_ID)
    if not parts:
        place = f"{where}: " if where else ""
        raise DataError(f"{place}entity id {raw!r} is empty; every relation names two entity "
                        "identifiers (e.g. MeSH D001 or NCBI Gene 7157)")
    return ",".join(parts)


def _pair(rel: RelationRecord) -> tuple[str, str, str]:
    a, b = canonical_id(rel.id1, rel.where), canonical_id(rel.id2, rel.where)
    return (str(rel.doc_id).strip(), *sorted((a, b)))


def relation_key(rel: RelationRecord, setting: str) -> tuple:
    """The key two relations must share to match in ``setting`` (one of :data:`SETTINGS`)."""
    pair = _pair(rel)
    if setting == "entity_pair":
        return pair
    if setting == "pair_type":
        return (*pair, rel.type.strip())
    if setting == "pair_novelty":
        return (*pair, rel.novel)
    if setting == "pair_type_novelty":
        return (*pair, rel.type.strip(), rel.novel)
    raise ValueError(f"unknown setting {setting!r}; expected one of {', '.join(SETTINGS)}")


def relation_keys(relations: Iterable[RelationRecord], setting: str) -> set[tuple]:
    """The set of keys of ``relations`` in ``setting`` (duplicates and swapped ids collapse)."""
    return {relation_key(r, setting) for r in relations}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts; 0 where a denominator is 0."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def shared_task_scores(
    gold: Iterable[RelationRecord],
    predicted: Iterable[RelationRecord],
    *,
    gold_documents: Iterable[str] | None = None,
    unknown_documents: str = "count",
) -> dict[str, float]:
    """Micro P/R/F1 and TP/FP/FN of ``predicted`` against ``gold`` in every setting.

    Keys: ``<setting>_<stat>`` for each setting of :data:`SETTINGS` and stat of
    :data:`STATS` (``entity_pair_f1``, ``pair_type_precision``, ``pair_type_novelty_tp``,
    ...); the two novelty settings only when every gold relation has a novelty. Also
    ``gold_documents``, ``gold_relations`` and ``pred_relations`` (distinct pairs),
    ``pred_conflicting_pairs`` (pairs predicted with more than one type/novelty),
    ``pred_unknown_doc_relations`` (distinct predicted pairs of documents not in gold) and
    ``gold_unknown_novelty``.

    ``gold_documents``: the documents gold covers (default: those of ``gold``'s relations);
    ``unknown_documents``: ``"count"`` (predictions elsewhere are FPs) or ``"ignore"``
    (they are dropped). See the module docstring for every definition.
    """
    if unknown_documents not in UNKNOWN_DOCUMENTS:
        raise ValueError(f"unknown_documents={unknown_documents!r}; expected one of "
                         f"{', '.join(UNKNOWN_DOCUMENTS)}")
    gold = list(gold)
    predicted = list(predicted)
    docs = {str(d).strip() for d in gold_documents} if gold_documents is not None else set()
    docs |= {str(r.doc_id).strip() for r in gold}
    unknown = [r for r in predicted if str(r.doc_id).strip() not in docs]
    if unknown_documents == "ignore":
        predicted = [r for r in predicted if str(r.doc_id).strip() in docs]

    gold_pairs = relation_keys(gold, "entity_pair")
    pred_pairs = relation_keys(predicted, "entity_pair")
    labels_per_pair: dict[tuple, set] = {}
    for r in predicted:
        labels_per_pair.setdefault(_pair(r), set()).add((r.type.strip(), r.novel))
    out: dict[str, float] = {
        "gold_documents": len(docs),
        "gold_relations": len(gold_pairs),
        "pred_relations": len(pred_pairs),
        "pred_conflicting_pairs": sum(len(v) > 1 for v in labels_per_pair.values()),
        "pred_unknown_doc_relations": len(relation_keys(unknown, "entity_pair")),
        "gold_unknown_novelty": len(relation_keys(
            (r for r in gold if r.novel is None), "entity_pair")),
    }
    for setting in SETTINGS:
        if setting in NOVELTY_SETTINGS and out["gold_unknown_novelty"]:
            continue
        g, p = relation_keys(gold, setting), relation_keys(predicted, setting)
        tp, fp, fn = len(g & p), len(p - g), len(g - p)
        precision, recall, f1 = prf(tp, fp, fn)
        out.update({f"{setting}_precision": precision, f"{setting}_recall": recall,
                    f"{setting}_f1": f1, f"{setting}_tp": tp, f"{setting}_fp": fp,
                    f"{setting}_fn": fn})
    return out


# --- building records ----------------------------------------------------------------------


def records_from_documents(docs: Iterable) -> list[RelationRecord]:
    """Gold records from :class:`~socio_re.tasks.relext.data.documents.Document` objects."""
    return [RelationRecord(d.id, r.type, r.id1, r.id2, r.novel)
            for d in docs for r in d.relations]


def records_from_predictions(
    pred_df, *, novel: bool | None = None, negative: str = "NOT"
) -> list[RelationRecord]:
    """Predicted records from a predictions frame (``abstract_id``, ``entity_a_id``,
    ``entity_b_id``, ``pred_label`` and optional ``pred_novel``); rows predicted ``negative``
    are not relations. Without a ``pred_novel`` column every record gets ``novel`` (None:
    unknown, which the novelty settings count as wrong; the project's submission files write
    Novel)."""
    columns = ("abstract_id", "entity_a_id", "entity_b_id", "pred_label")
    absent = [c for c in columns if c not in pred_df.columns]
    if absent:
        raise ValueError(f"prediction frame lacks columns {absent}")
    novelty = (list(pred_df["pred_novel"]) if "pred_novel" in pred_df.columns
               else [novel] * len(pred_df))
    out = []
    for doc, a, b, label, nov in zip(pred_df["abstract_id"], pred_df["entity_a_id"],
                                     pred_df["entity_b_id"], pred_df["pred_label"], novelty,
                                     strict=True):
        if label == negative:
            continue
        out.append(RelationRecord(str(doc), str(label), str(a), str(b), _as_novel(nov)))
    return out


def _as_novel(value: object) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):  # None / NaN
        return None
    if isinstance(value, str):
        key = value.strip().lower()
        if key not in ("novel", "no", ""):
            raise ValueError(f"novelty {value!r}; expected Novel, No or a bool")
        return None if not key else key == "novel"
    return bool(value)


def format_table(scores: Mapping[str, float]) -> str:
    """The scores as a small fixed-width table: setting, P, R, F1, TP, FP, FN."""
    width = max(len(v) for v in SETTING_LABELS.values())
    lines = [f"{'setting':<{width}}  {'P %':>6}  {'R %':>6}  {'F1 %':>6}  {'TP':>6}  {'FP':>6}  "
             f"{'FN':>6}"]
    for setting in SETTINGS:
        label = SETTING_LABELS[setting]
        if f"{setting}_f1" not in scores:
            lines.append(f"{label:<{width}}  {'n/a (gold has no novelty)':>34}")
            continue
        p, r, f = (scores[f"{setting}_{s}"] for s in ("precision", "recall", "f1"))
        tp, fp, fn = (int(scores[f"{setting}_{s}"]) for s in ("tp", "fp", "fn"))
        lines.append(f"{label:<{width}}  {100 * p:6.2f}  {100 * r:6.2f}  {100 * f:6.2f}  "
                     f"{tp:6d}  {fp:6d}  {fn:6d}")
    return "\n".join(lines)


def score_files(gold_path, pred_path, split: str | None = None,
                unknown_documents: str = "count") -> tuple[dict[str, float], Any, Any]:
    """(scores, gold source, prediction source) of two files or corpora as
    :func:`read_relations` reads them; gold covers the documents its source lists. What the
    scoring command prints and a run's ``shared_task`` metrics are."""
    gold = read_relations(gold_path, split)
    pred = read_relations(pred_path, split)
    scores = shared_task_scores(gold.relations, pred.relations, gold_documents=gold.documents,
                                unknown_documents=unknown_documents)
    return scores, gold, pred


# --- reading files -------------------------------------------------------------------------


@dataclass
class RelationSource:
    """What one gold or prediction source holds: its relations and the documents it covers."""

    path: str
    kind: str
    documents: set[str]
    relations: list[RelationRecord]
    skipped: int = 0  # lines that are no relations: NOT/None rows, "Subject:" direction lines


_LITCOIN_REQUIRED = ("abstract_id", "type", "entity_1_id", "entity_2_id")
_PUBTATOR_HEAD = re.compile(r"^([^\t|]+)\|[ta]\|")
_NEGATIVE = {"not", "none"}
# BioREDirect writes "Type|score" and "Novel|score"; the score is dropped.
_SCORE_SUFFIX = re.compile(r"\|[-+0-9.eE]+$")


def read_relations(path, split: str | None = None) -> RelationSource:
    """Relations of a LitCoin relations TSV, a PubTator file (full, or relation lines only),
    or anything :func:`~socio_re.tasks.relext.data.readers.read_corpus` reads (a LitCoin or BioRED
    directory, a BioC JSON file, ``abstracts_<split>.csv``). ``split`` picks one split of a
    corpus that holds several. Malformed input: DataError naming ``file:line``."""
    from pathlib import Path

    from socio_re.data.text import read_text, text_lines

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist; give a LitCoin relations TSV, a PubTator file or "
                        "a LitCoin/BioRED directory")
    if p.is_dir() or p.name.lower().endswith(".json") or (
            p.name.lower().startswith("abstracts_") and p.suffix.lower() == ".csv"):
        return _read_corpus(p, split)
    lines = text_lines(read_text(p, "relations file"))
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise DataError(f"{p}: the file is empty; expected a LitCoin relations TSV (header "
                        "id, abstract_id, type, entity_1_id, entity_2_id, novel) or PubTator "
                        "relation lines (PMID, Type, ID1, ID2, Novel|No)")
    header = [h.strip() for h in first.split("\t")]
    if "abstract_id" in header:
        return _read_litcoin_relations(p, lines)
    return _read_pubtator_relations(p, lines)


def _read_corpus(p, split: str | None) -> RelationSource:
    from socio_re.tasks.relext.data.readers import read_corpus

    splits = read_corpus(p)
    if split is None:
        if len(splits) > 1:
            raise DataError(f"{p} holds the splits {', '.join(splits)}; choose one with "
                            "--split")
        split = next(iter(splits))
    if split not in splits:
        raise DataError(f"{p} has no split {split!r}; it holds {', '.join(splits)}")
    docs = splits[split]
    return RelationSource(f"{p} [{split}]", "corpus", {d.id.strip() for d in docs},
                          records_from_documents(docs))


def _label(raw: str) -> str:
    return _SCORE_SUFFIX.sub("", raw.strip())


def _record(doc: str, rel_type: str, id1: str, id2: str, novel: str, where: str
            ) -> RelationRecord | None:
    """A validated record, or None for a NOT/None row."""
    rel_type = _label(rel_type)
    if rel_type.lower() in _NEGATIVE:
        return None
    if not doc.strip():
        raise DataError(f"{where}: the document id is empty")
    try:
        check_relation_type(rel_type)
        novelty = parse_novel(_label(novel))
    except ValueError as e:
        raise DataError(f"{where}: {e}; fix the relation line") from None
    rec = RelationRecord(doc.strip(), rel_type, id1.strip(), id2.strip(), novelty, where)
    _pair(rec)  # empty ids raise here, with the line
    return rec


def _read_litcoin_relations(p, lines: list[str]) -> RelationSource:
    start = 0
    while not lines[start].strip():
        start += 1
    header = [h.strip() for h in lines[start].split("\t")]
    missing = [c for c in _LITCOIN_REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"{p}:{start + 1}: the header lacks column(s) {', '.join(missing)}; a LitCoin "
            "relations file is tab-separated with the header id, abstract_id, type, "
            "entity_1_id, entity_2_id, novel (novel optional)")
    col = {name: i for i, name in enumerate(header)}
    source = RelationSource(str(p), "LitCoin relations TSV", set(), [])
    for lineno, line in enumerate(lines[start + 1:], start=start + 2):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DataError(f"{where}: expected {len(header)} tab-separated columns "
                            f"({', '.join(header)}), found {len(cells)}; LitCoin files are "
                            "tab-separated despite the .csv name")
        rec = _record(cells[col["abstract_id"]], cells[col["type"]], cells[col["entity_1_id"]],
                      cells[col["entity_2_id"]],
                      cells[col["novel"]] if "novel" in col else "", where)
        source.documents.add(cells[col["abstract_id"]].strip())
        if rec is None:
            source.skipped += 1
        else:
            source.relations.append(rec)
    return source


def _is_int(value: str) -> bool:
    return value.strip().lstrip("-").isdigit()


def _read_pubtator_relations(p, lines: list[str]) -> RelationSource:
    source = RelationSource(str(p), "PubTator", set(), [])
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        head = _PUBTATOR_HEAD.match(line)
        if head:  # PMID|t|title or PMID|a|abstract
            source.documents.add(head.group(1).strip())
            continue
        fields = line.split("\t")
        if len(fields) >= 4 and _is_int(fields[1]) and _is_int(fields[2]):
            source.documents.add(fields[0].strip())
            continue  # a mention: not scored
        if len(fields) == 4 and fields[3].strip().startswith("Subject:"):
            source.skipped += 1  # BioREDirect's direction line: not scored by BC8
            continue
        if len(fields) not in (4, 5):
            raise DataError(
                f"{where}: cannot parse a line with {len(fields)} tab-separated field(s); "
                "expected a relation PMID<TAB>Type<TAB>ID1<TAB>ID2[<TAB>Novel|No] (or "
                "PMID|t|title, PMID|a|abstract and mention lines)")
        rec = _record(fields[0], fields[1], fields[2], fields[3],
                      fields[4] if len(fields) == 5 else "", where)
        source.documents.add(fields[0].strip())
        if rec is None:
            source.skipped += 1
        else:
            source.relations.append(rec)
    return source
