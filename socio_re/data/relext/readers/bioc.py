"""BioC JSON reader (BioRED's ``Train.BioC.JSON`` etc.).

Shape::

    {"documents": [{"id": ..., "passages": [{"offset", "text", "infons": {"type": "title"},
        "annotations": [{"id", "infons": {"type", "identifier"}, "text",
                         "locations": [{"offset", "length"}]}]}, ...],
      "relations": [{"id", "infons": {"type", "entity1", "entity2", "novel"}}]}]}

BioC offsets are document-absolute and a passage's stored offset need not match our text, so
each annotation is re-based on its passage: ``offset - passage.offset`` plus where that passage
starts in ``title + " " + abstract``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from socio_re.data.relext.documents import Document, Mention, Relation
from socio_re.data.relext.readers.pubtator import check_relation_type, parse_novel, split_ids
from socio_re.data.text import read_text
from socio_re.errors import DataError

_TITLE_TYPES = {"title", "front"}


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
    title = str(_get(passages[title_idx], "text", where))
    rest = [p for i, p in enumerate(passages) if i != title_idx]
    # Any further passages are joined into the abstract, one space apart.
    texts = [str(_get(p, "text", where)) for p in rest]
    doc = Document(doc_id, title, " ".join(texts))
    starts = [0]
    position = len(title) + 1
    for text in texts:
        starts.append(position)
        position += len(text) + 1
    for passage, start in zip([passages[title_idx], *rest], starts, strict=True):
        doc.mentions.extend(_mentions(passage, start, doc, where))
    relations = raw.get("relations") or []
    if not isinstance(relations, list):
        raise DataError(f"{where}: 'relations' has unexpected type {type(relations).__name__}; "
                        "expected a list of relations")
    doc.relations.extend(_relation(r, where) for r in relations)
    return doc


def _passage_type(passage: Any) -> str:
    infons = passage.get("infons") if isinstance(passage, dict) else None
    return str((infons or {}).get("type", "")).lower()


def _mentions(passage: Any, start: int, doc: Document, where: str) -> list[Mention]:
    base = _int(passage, "offset", where)
    text = doc.text
    mentions = []
    annotations = passage.get("annotations") or []
    if not isinstance(annotations, list):
        raise DataError(f"{where}: 'annotations' has unexpected type "
                        f"{type(annotations).__name__}; expected a list of annotations")
    for ann in annotations:
        ann_id = str(ann.get("id", "?")) if isinstance(ann, dict) else "?"
        at = f"{where}, annotation {ann_id}"
        infons = _get(ann, "infons", at, dict)
        locations = _get(ann, "locations", at, list)
        if not locations:
            raise DataError(f"{at}: has no locations; give it an offset and a length")
        spans = [(_int(loc, "offset", at), _int(loc, "length", at)) for loc in locations]
        m_start = min(o for o, _ in spans) - base + start
        m_end = max(o + n for o, n in spans) - base + start
        stated = str(_get(ann, "text", at))
        found = text[m_start:m_end] if 0 <= m_start <= m_end <= len(text) else None
        # A discontinuous mention (several locations) keeps its covering span; its stated text
        # cannot match that span, so only single-location mentions are checked.
        if len(spans) == 1 and found != stated:
            raise DataError(
                f"{at}: text {stated!r} at {spans[0][0]} (length {spans[0][1]}) does not match "
                f"the passage text there {found!r}; fix the annotation's offset or text"
            )
        if found is None:
            raise DataError(f"{at}: locations fall outside the document text")
        mentions.append(Mention(
            m_start, m_end, str(infons.get("type", "")), found,
            split_ids(str(infons.get("identifier") or infons.get("Identifier") or "")),
        ))
    return mentions


def _relation(raw: Any, where: str) -> Relation:
    rel_id = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
    at = f"{where}, relation {rel_id}"
    infons = _get(raw, "infons", at, dict)
    try:
        novel = parse_novel(str(infons.get("novel") or ""))
        check_relation_type(str(_get(infons, "type", at)))
    except ValueError as e:
        raise DataError(f"{at}: {e}") from None
    return Relation(
        str(_get(infons, "type", at)).strip(),
        str(_get(infons, "entity1", at)).strip(),
        str(_get(infons, "entity2", at)).strip(),
        novel,
        None if rel_id == "?" else rel_id,
    )
