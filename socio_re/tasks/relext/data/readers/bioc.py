"""BioC JSON reader (BioRED's ``Train.BioC.JSON`` etc.).

Shape::

    {"documents": [{"id": ..., "passages": [{"offset", "text", "infons": {"type": "title"},
        "annotations": [{"id", "infons": {"type", "identifier"}, "text",
                         "locations": [{"offset", "length"}]}]}, ...],
      "relations": [{"id", "infons": {"type", "entity1", "entity2", "novel"}}]}]}

Offsets: BioC annotation offsets are document-absolute; the title passage sits at offset 0 and
the abstract passage at its own ``offset`` (usually ``len(title) + 1``). Each location is
re-based on the passage that contains it: ``offset - passage.offset`` plus where that passage
starts in ``title + " " + abstract``. So a passage whose stored offset is not where it starts in
our text (a title whose trailing spaces were trimmed, say) still reads right, and so does an
annotation listed under the other passage. A location inside no passage is rejected.

Discontinuous mentions (several ``locations``, e.g. "breast ... cancer") become one mention
over the span covering all their locations, as BioRED's PubTator files write them; every
location must lie in the same passage. Their ``text`` is not checked against that span (BioC
tools write the pieces in several ways); a single-location annotation's ``text`` must match.

Relations are read from the document and from any passage that holds some (the same
``infons`` layout) and link identifiers of the whole document: an identifier mentioned only in
the other passage is fine, one mentioned nowhere is rejected. Identifiers are read as in
:mod:`~socio_re.tasks.relext.data.readers.pubtator` (composite ``;``/``,`` lists, ``-``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socio_re.data.text import read_text
from socio_re.errors import DataError
from socio_re.tasks.relext.data.documents import Document, Mention, Relation
from socio_re.tasks.relext.data.readers.pubtator import (
    check_relation_type,
    normalize_id,
    parse_novel,
    relation_problem,
    span_mismatch,
    split_ids,
)

_TITLE_TYPES = {"title", "front"}


@dataclass(frozen=True)
class _Passage:
    """A passage's stored (document-absolute) offset and text, and where it starts in
    ``Document.text``."""

    label: str
    base: int
    text: str
    start: int

    def holds(self, offset: int, length: int) -> bool:
        return self.base <= offset and offset + length <= self.base + len(self.text)


def read_bioc_json(file: str | Path) -> list[Document]:
    path = Path(file)
    data = _load(path)
    documents = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(documents, list):
        raise DataError(
            f"{path}: not BioC JSON: expected a top-level object with a 'documents' list"
        )
    docs: list[Document] = []
    seen: set[str] = set()
    for index, raw in enumerate(documents):
        doc = _document(path, index, raw)
        if doc.id in seen:
            raise DataError(f"{path}: document {doc.id} appears twice; remove the duplicate")
        seen.add(doc.id)
        docs.append(doc)
    return docs


def _load(path: Path) -> Any:
    text = read_text(path, "BioC JSON file")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; expected BioC JSON, an object with a "
                        "'documents' list")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}:{e.lineno}: invalid JSON ({e.msg}); fix or re-export the file"
        ) from None


def _get(obj: Any, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    """``obj[key]`` with a DataError (naming ``where``) when it is missing or of the wrong type."""
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing key {key!r}; the file does not follow the BioC layout")
    value = obj[key]
    if not isinstance(value, kind):
        raise DataError(f"{where}: {key!r} has unexpected type {type(value).__name__}")
    return value


def _int(obj: Any, key: str, where: str) -> int:
    value = _get(obj, key, where)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {key!r} must be an integer, found {value!r}") from None


def _document(path: Path, index: int, raw: Any) -> Document:
    doc_id = str(_get(raw, "id", f"{path}: documents[{index}]"))
    where = f"{path}: document {doc_id}"
    passages = _get(raw, "passages", where, list)
    if not passages:
        raise DataError(f"{where}: has no passages; expected a title and an abstract passage")
    title_idx = next(
        (i for i, p in enumerate(passages) if _passage_type(p) in _TITLE_TYPES), 0
    )
    ordered = [passages[title_idx], *(p for i, p in enumerate(passages) if i != title_idx)]
    texts = [str(_get(p, "text", where)) for p in ordered]
    # Any further passages are joined into the abstract, one space apart.
    doc = Document(doc_id, texts[0], " ".join(texts[1:]))
    spans, position = [], 0
    for k, (passage, text) in enumerate(zip(ordered, texts, strict=True)):
        label = _passage_type(passage) or ("title" if k == 0 else f"passage {k}")
        spans.append(_Passage(label, _int(passage, "offset", where), text, position))
        position += len(text) + 1
    relations = _list(raw, "relations", where)
    for passage, own in zip(ordered, spans, strict=True):
        doc.mentions.extend(_mentions(passage, own, spans, doc, where))
        relations += _list(passage, "relations", where)
    mentioned = {i for m in doc.mentions for i in m.ids}
    for r in relations:
        relation, at = _relation(r, where)
        problem = relation_problem(relation, mentioned)
        if problem:
            raise DataError(f"{at}: {problem}")
        doc.relations.append(relation)
    return doc


def _list(obj: Any, key: str, where: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: {key!r} has unexpected type {type(value).__name__}; "
                        f"expected a list of {key}")
    return list(value)


def _passage_type(passage: Any) -> str:
    infons = passage.get("infons") if isinstance(passage, dict) else None
    return str((infons or {}).get("type", "")).lower()


def _locate(at: str, offset: int, length: int, own: _Passage, spans: list[_Passage]) -> _Passage:
    """The passage holding ``[offset, offset + length)``: the one listing the annotation when it
    does, else any other (annotations filed under the wrong passage)."""
    if length <= 0:
        raise DataError(f"{at}: location at {offset} has length {length}; a mention needs at "
                        "least one character")
    for passage in (own, *spans):
        if passage.holds(offset, length):
            return passage
    layout = ", ".join(f"{p.label} {p.base}-{p.base + len(p.text)}" for p in spans)
    raise DataError(f"{at}: location {offset}-{offset + length} lies in no passage ({layout}); "
                    "fix the offset (BioC offsets are document-absolute)")


def _mentions(passage: Any, own: _Passage, spans: list[_Passage], doc: Document,
              where: str) -> list[Mention]:
    text = doc.text
    mentions = []
    for ann in _list(passage, "annotations", where):
        ann_id = str(ann.get("id", "?")) if isinstance(ann, dict) else "?"
        at = f"{where}, annotation {ann_id}"
        infons = _get(ann, "infons", at, dict)
        locations = _get(ann, "locations", at, list)
        if not locations:
            raise DataError(f"{at}: has no locations; give it an offset and a length")
        pieces = [(_int(loc, "offset", at), _int(loc, "length", at)) for loc in locations]
        homes = {_locate(at, o, n, own, spans) for o, n in pieces}
        if len(homes) > 1:
            raise DataError(
                f"{at}: its locations fall in different passages "
                f"({', '.join(sorted(h.label for h in homes))}); a mention lies in one passage"
            )
        home = homes.pop()
        start = min(o for o, _ in pieces) - home.base + home.start
        end = max(o + n for o, n in pieces) - home.base + home.start
        stated = str(_get(ann, "text", at))
        if len(pieces) == 1:
            problem = span_mismatch(text, start, end, stated)
            if problem:
                raise DataError(f"{at}: {problem} (location {pieces[0][0]}, length "
                                f"{pieces[0][1]}); fix the annotation's offset or text")
        ident = infons.get("identifier", infons.get("Identifier"))
        mentions.append(Mention(start, end, str(infons.get("type", "")), text[start:end],
                                split_ids("" if ident is None else str(ident))))
    return mentions


def _relation(raw: Any, where: str) -> tuple[Relation, str]:
    rel_id = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
    at = f"{where}, relation {rel_id}"
    infons = _get(raw, "infons", at, dict)
    try:
        novel = parse_novel(str(infons.get("novel") or ""))
        check_relation_type(str(_get(infons, "type", at)))
    except ValueError as e:
        raise DataError(f"{at}: {e}") from None
    relation = Relation(
        str(_get(infons, "type", at)).strip(),
        normalize_id(str(_get(infons, "entity1", at))),
        normalize_id(str(_get(infons, "entity2", at))),
        novel,
        None if rel_id == "?" else rel_id,
    )
    return relation, at
