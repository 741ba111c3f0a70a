"""Pair instances of the reference pipeline: one per unordered pair of entity ids per abstract.

An instance carries its own context ``text`` (the sentences mentioning either entity, or the
whole abstract) and the spans of every mention of both entities inside that text, so the
marker transforms and the split files need nothing but the instance itself.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from socio_re.data.text import read_text
from socio_re.errors import ConfigError, DataError
from socio_re.tasks.relext.data.documents import LABELS, NOT, Document, Mention, Relation
from socio_re.tasks.relext.data.sentences import sentence_spans

Span = tuple[int, int, str]  # [start, end) into Instance.text, entity type of that mention
CONTEXTS = ("sentences", "abstract")
FIELDS = (
    "abstract_id", "relation_id", "entity_a_id", "entity_b_id", "type", "novel", "text",
    "entity_a", "entity_b",
)
# The older written form of ``novel`` (still read): "Novel" / "No" / null.
_NOVEL_WORDS = {"novel": True, "no": False}


@dataclass
class Instance:
    abstract_id: str
    relation_id: str | None
    entity_a_id: str
    entity_b_id: str
    type: str  # one of LABELS ("NOT" for unrelated pairs)
    novel: bool | None
    text: str
    entity_a: list[Span]
    entity_b: list[Span]


# --------------------------------------------------------------------------- building


def _check_mentions(doc: Document) -> None:
    n = len(doc.text)
    for m in doc.mentions:
        if m.ids and not 0 <= m.start < m.end <= n:
            raise DataError(
                f"abstract {doc.id}: mention {m.text!r} has span [{m.start}, {m.end}) outside "
                f"its text (length {n})"
            )


def _doc_sentences(doc: Document) -> list[tuple[int, int]]:
    """Sentence spans, merged where a mention straddles a boundary (a splitter mistake).

    Merging keeps every mention inside one sentence, so remapping offsets into the joined
    context can never cut a mention in two.
    """
    spans = [list(s) for s in sentence_spans(doc.text, len(doc.title))] or [[0, len(doc.text)]]
    for m in doc.mentions:
        if not m.ids:
            continue
        hit = [i for i, (s, e) in enumerate(spans) if s < m.end and m.start < e]
        if not hit:  # mention in inter-sentence whitespace: stretch the sentence before it
            hit = [max([i for i, (s, _) in enumerate(spans) if s <= m.start], default=0)]
        lo, hi = hit[0], hit[-1]
        merged = [min(spans[lo][0], m.start), max(spans[hi][1], m.end)]
        spans[lo : hi + 1] = [merged]
    return [(s, e) for s, e in spans]


def _sentence_of(sentences: list[tuple[int, int]], m: Mention) -> int:
    return next(i for i, (s, e) in enumerate(sentences) if s <= m.start and m.end <= e)


class _DocIndex:
    """Per-abstract lookups built once instead of once per pair: the mentions of each id (in
    document order, as ``Document.mentions_of``) and the sentence of each identified mention."""

    def __init__(self, doc: Document, sentences: list[tuple[int, int]]):
        self.sentences = sentences
        self.by_id: dict[str, list[Mention]] = {}
        self.sentence: dict[int, int] = {}  # id(mention) -> sentence index
        for m in doc.mentions:
            for i in dict.fromkeys(m.ids):
                self.by_id.setdefault(i, []).append(m)
            if m.ids:
                self.sentence[id(m)] = _sentence_of(sentences, m)

    def mentions_of(self, entity_id: str) -> list[Mention]:
        return self.by_id.get(entity_id, [])

    def entity_type(self, entity_id: str) -> str:
        ms = self.by_id.get(entity_id)
        return ms[0].type if ms else ""


def _spans(mentions: list[Mention], shift) -> list[Span]:
    """Deduplicated, ordered spans; ``shift(mention)`` is the offset of the mention's sentence
    start in the context minus its offset in the document."""
    seen: dict[tuple[int, int], tuple[str, int]] = {}
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        seen.setdefault((m.start, m.end), (m.type, shift(m)))
    return [(s + d, e + d, t) for (s, e), (t, d) in seen.items()]


def _context(doc: Document, index: _DocIndex, mentions: list[Mention], context: str):
    """(context text, shift) for the given mentions; see ``_spans`` for ``shift``."""
    if context == "abstract":
        return doc.text, lambda m: 0
    sentence = index.sentence
    wanted = sorted({sentence[id(m)] for m in mentions})
    parts, delta, pos = [], {}, 0  # delta: sentence index -> context offset - document offset
    for i in wanted:
        s, e = index.sentences[i]
        delta[i] = pos - s
        parts.append(doc.text[s:e])
        pos += e - s + 1  # the single joining space
    return " ".join(parts), lambda m: delta[sentence[id(m)]]


def _gold_relations(doc: Document, stats: dict) -> dict[frozenset[str], Relation]:
    """The first gold relation per unordered id pair; counts duplicates and unmentioned ones."""
    mentioned = set(doc.entity_ids())
    gold: dict[frozenset[str], Relation] = {}
    for rel in doc.relations:
        if rel.type not in LABELS or rel.type == NOT:
            raise DataError(
                f"abstract {doc.id}: relation type {rel.type!r} is not one of {LABELS[1:]}"
            )
        if rel.id1 == rel.id2:  # no pair to classify; reported, not fatal
            stats["self_relations"] += 1
            continue
        if rel.id1 not in mentioned or rel.id2 not in mentioned:
            stats["relations_unmentioned"] += 1
            continue
        key = frozenset((rel.id1, rel.id2))
        if key in gold:
            stats["duplicate_relations"] += 1
            continue
        gold[key] = rel
    return gold


def _pair_instance(doc, index: _DocIndex, a: str, b: str, rel: Relation | None, context: str):
    if rel is not None:
        a, b = rel.id1, rel.id2
    ma, mb = index.mentions_of(a), index.mentions_of(b)
    text, shift = _context(doc, index, ma + mb, context)
    return Instance(
        abstract_id=doc.id,
        relation_id=rel.relation_id if rel else None,
        entity_a_id=a,
        entity_b_id=b,
        type=rel.type if rel else NOT,
        novel=rel.novel if rel else None,
        text=text,
        entity_a=_spans(ma, shift),
        entity_b=_spans(mb, shift),
    )


def _same_sentence(index: _DocIndex, a: str, b: str) -> bool:
    sa = {index.sentence[id(m)] for m in index.mentions_of(a)}
    return any(index.sentence[id(m)] in sa for m in index.mentions_of(b))


def _new_stats() -> dict:
    return {
        "count": dict.fromkeys(LABELS, 0),
        "total": 0,
        "positives": 0,
        "cross_sentence": 0,
        "cross_sentence_share": 0.0,
        "dropped_by_type": 0,
        "positives_dropped_by_type": 0,
        "not_dropped_by_sampling": 0,
        "relations_unmentioned": 0,
        "duplicate_relations": 0,
        "self_relations": 0,
    }


def _doc_instances(doc, context, type_pairs, stats) -> list[Instance]:
    _check_mentions(doc)
    index = _DocIndex(doc, _doc_sentences(doc))
    gold = _gold_relations(doc, stats)
    ids = [i for i in doc.entity_ids() if i]
    out = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            rel = gold.get(frozenset((a, b)))
            if type_pairs is not None and _type_set(index, a, b) not in type_pairs:
                stats["dropped_by_type"] += 1
                stats["positives_dropped_by_type"] += rel is not None
                continue
            if rel is not None and not _same_sentence(index, a, b):
                stats["cross_sentence"] += 1
            out.append(_pair_instance(doc, index, a, b, rel, context))
    return out


def _type_set(doc: Document | _DocIndex, a: str, b: str) -> frozenset[str]:
    return frozenset((doc.entity_type(a), doc.entity_type(b)))


def downsample_negatives(instances: list[Instance], ratio: float, seed: int) -> list[Instance]:
    """Keep at most ``ratio`` x positives NOT instances, chosen by ``seed``, order preserved."""
    negatives = [i for i, inst in enumerate(instances) if inst.type == NOT]
    n_pos = len(instances) - len(negatives)
    keep_n = min(len(negatives), int(ratio * n_pos))
    # random.Random with an int seed is stable across runs and Python versions.
    dropped = set(negatives) - set(random.Random(seed).sample(negatives, keep_n))
    return [inst for i, inst in enumerate(instances) if i not in dropped]


def build_instances(
    docs: Iterable[Document],
    *,
    context: str = "sentences",
    type_pairs: set[frozenset[str]] | None = None,
    negative_ratio: float | None = None,
    seed: int = 0,
) -> tuple[list[Instance], dict]:
    """All pair instances of ``docs`` and their statistics.

    Pairs come in a deterministic order: abstracts as given, then entity ids by first mention.
    A related pair takes the first gold relation between its ids (either direction) and its
    entity_a is that relation's entity_1; an unrelated pair (NOT) keeps first-mention order.
    ``type_pairs`` keeps only pairs whose unordered type set is in it; ``negative_ratio``
    (training only: the caller decides) keeps at most ratio x positives NOT instances.
    """
    if context not in CONTEXTS:
        raise ConfigError("data.context", context, " or ".join(CONTEXTS))
    if negative_ratio is not None and not negative_ratio >= 0:
        raise ConfigError("data.negative_ratio", negative_ratio, "a number >= 0 or null")
    stats = _new_stats()
    instances = [
        inst for doc in docs for inst in _doc_instances(doc, context, type_pairs, stats)
    ]
    if negative_ratio is not None:
        before = len(instances)
        instances = downsample_negatives(instances, negative_ratio, seed)
        stats["not_dropped_by_sampling"] = before - len(instances)
    for inst in instances:
        stats["count"][inst.type] += 1
    stats["total"] = len(instances)
    stats["positives"] = stats["total"] - stats["count"][NOT]
    if stats["positives"]:
        stats["cross_sentence_share"] = stats["cross_sentence"] / stats["positives"]
    return instances, stats


def type_pairs_of(items: Iterable[Instance | Document]) -> set[frozenset[str]]:
    """Unordered entity-type sets of the related (gold, non-NOT) pairs of instances or docs."""
    pairs: set[frozenset[str]] = set()
    for item in items:
        if isinstance(item, Document):
            mentioned = set(item.entity_ids())
            pairs.update(
                _type_set(item, r.id1, r.id2)
                for r in item.relations
                if r.id1 in mentioned and r.id2 in mentioned
            )
        elif item.type != NOT and item.entity_a and item.entity_b:
            pairs.add(frozenset((item.entity_a[0][2], item.entity_b[0][2])))
    return pairs


# --------------------------------------------------------------------------- split files
#
# A split file is what the seed (iKraph) relation pipeline writes with
# ``relation/data_multi_sentence/litcoin_600/multi_sentence_gen_data_all.py`` and
# ``multi_sentence_split.py`` (github.com/ming-chieh-liu/iKraph-Relation): one JSON array of
# records (``json.dump(..., indent=4)``), one record per entity pair, with exactly the keys of
# FIELDS:
#
#   abstract_id   the PMID as a JSON number (``int(pmid)``); read as a string
#   relation_id   "True.<pmid>.<k>" (k: the relation's index in its document) or
#                 "False.<pmid>.<n>" (NOT pairs; n counts over the corpus); kept as read
#   entity_a_id / entity_b_id   the pair's identifiers
#   type          one of the 8 relation types or "NOT"
#   novel         a JSON boolean: true = Novel, false = No, and false for every NOT pair
#   text          the sentences (title first) that mention either entity, joined by one space
#   entity_a / entity_b   [start, end, EntityType] spans into text, in sentence order (not
#                 sorted within a sentence); the same span may be in both (a composite mention)
#
# This project reads those files as they are, and also the form it wrote before (novel as
# "Novel" / "No" / null). It writes the iKraph form, so its files feed the iKraph code too:
# novel as a boolean (false for NOT, as iKraph does) or null where a relation's novelty is not
# annotated; abstract_id as a string and relation_id as the corpus gave it (null for NOT pairs),
# which the iKraph training code does not read. Extra keys are ignored.


def _to_record(inst: Instance) -> dict:
    novel = False if inst.type == NOT else inst.novel
    return {
        "abstract_id": inst.abstract_id,
        "relation_id": inst.relation_id,
        "entity_a_id": inst.entity_a_id,
        "entity_b_id": inst.entity_b_id,
        "type": inst.type,
        "novel": novel,
        "text": inst.text,
        "entity_a": [list(s) for s in inst.entity_a],
        "entity_b": [list(s) for s in inst.entity_b],
    }


def write_split_file(instances: Iterable[Instance], path: str | Path) -> Path:
    """Write instances as the reference (iKraph) pipeline's JSON list of records (see above)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [_to_record(inst) for inst in instances]
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def _id(value: object, field: str, nullable: bool = False) -> str | None:
    # The reference files may hold numeric ids (LitCoin abstract ids are integers).
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{field} must be a string or an integer, got {value!r}")
    return str(value)


def _novel(value: object, label: str) -> bool | None:
    """``novel`` as iKraph writes it (true/false) or as this project wrote it before
    ("Novel"/"No"/null). A NOT pair has no novelty: None whatever the file says."""
    if isinstance(value, bool) or value is None:
        novel = value
    elif isinstance(value, str) and value.strip().lower() in _NOVEL_WORDS:
        novel = _NOVEL_WORDS[value.strip().lower()]
    else:
        raise ValueError(f"novel {value!r} is not true, false or null (or 'Novel' / 'No')")
    return None if label == NOT else novel


def _span_list(value: object, field: str, text: str) -> list[Span]:
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list of [start, end, Type]")
    if not value:
        raise ValueError(f"{field} is empty: the record has no mention of that entity in its "
                         "text to mark; drop the record or give the entity's spans")
    spans = []
    for span in value:
        ok = isinstance(span, list) and len(span) == 3
        ok = ok and all(isinstance(x, int) and not isinstance(x, bool) for x in span[:2])
        if not ok or not isinstance(span[2], str):
            raise ValueError(f"{field} holds {span!r}, expected [start, end, Type]")
        if not 0 <= span[0] < span[1] <= len(text):
            raise ValueError(f"{field} span {span!r} is outside text (length {len(text)})")
        spans.append((span[0], span[1], span[2]))
    return spans


def _from_record(rec: object) -> Instance:
    if not isinstance(rec, dict):
        raise ValueError(f"expected an object, got {type(rec).__name__}")
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    if not isinstance(rec["type"], str) or rec["type"] not in LABELS:
        raise ValueError(f"type {rec['type']!r} is not one of {LABELS}")
    novel = _novel(rec["novel"], rec["type"])
    if not isinstance(rec["text"], str):
        raise ValueError("text must be a string")
    text = rec["text"]
    return Instance(
        abstract_id=_id(rec["abstract_id"], "abstract_id"),
        relation_id=_id(rec["relation_id"], "relation_id", nullable=True),
        entity_a_id=_id(rec["entity_a_id"], "entity_a_id"),
        entity_b_id=_id(rec["entity_b_id"], "entity_b_id"),
        type=rec["type"],
        novel=novel,
        text=text,
        entity_a=_span_list(rec["entity_a"], "entity_a", text),
        entity_b=_span_list(rec["entity_b"], "entity_b", text),
    )


def read_split_file(path: str | Path) -> list[Instance]:
    """Read and validate one split file (the iKraph form or this project's older one, see
    above); any problem is a DataError naming file and record."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"split file {path} does not exist")
    text = read_text(path, "split file")
    if not text.strip():
        raise DataError(f"split file {path} is empty; expected a JSON list of records (an "
                        "empty fold is [])")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"split file {path}:{err.lineno}: invalid JSON ({err.msg}); fix or "
                        "re-export the file") from None
    if not isinstance(records, list):
        raise DataError(f"split file {path} must hold a JSON list of records, found a JSON "
                        f"{type(records).__name__}")
    out = []
    for index, rec in enumerate(records):
        try:
            out.append(_from_record(rec))
        except ValueError as err:
            raise DataError(f"split file {path}, record {index}: {err}") from None
    return out
