"""PubTator reader and writer (BioRED's ``Train.PubTator`` / ``Dev.PubTator`` / ``Test.PubTator``).

A document is a block of lines, blocks separated by blank lines::

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>Type<TAB>ID[,ID]
    PMID<TAB>RelType<TAB>ID1<TAB>ID2[<TAB>Novel|No]

Offsets index the whole document text, ``title + " " + abstract``: the title starts at 0 and
the abstract at ``len(title) + 1``. Also home of the small parsing helpers the other readers
share (identifier lists, novelty labels, span and relation checks).

How the quirks of real BioRED / BioCreative VIII files are read (the same in every reader; the
conventions of NCBI's own BioRED code, ``ncbi-nlp/BioREDirect``'s PubTator and BioC loaders):

* **Composite identifiers** (``D001943,D010051`` or ``D001943;D010051``, e.g. "breast and
  ovarian cancer"): the mention refers to each of those entities, so it is a mention of every
  one of them (and a pair may share a mention). ``|`` is no separator: it is part of variant
  identifiers such as ``c|INS|5382|C``. Spaces around identifiers and a leading ``*`` (PubTator3
  marks some identifiers so) are dropped.
* **``-`` identifiers** (or an empty column): a mention without a normalised identifier. It is
  kept as a mention but belongs to no entity, so it is in no pair and no relation; a relation
  that names ``-`` is rejected.
* **Overlapping and nested mentions** are legal and kept as they are (the marker transforms nest
  them).
* **Relations** link identifiers at document level: an identifier may be mentioned in the title
  only, in the abstract only, or in both. A relation whose identifier is on no mention of its
  document (title or abstract) is rejected with one line naming it.
* **Titles with trailing spaces** are kept verbatim: the abstract's offsets count them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from socio_re.data.text import read_text, text_lines
from socio_re.errors import DataError
from socio_re.tasks.relext.data.documents import RELATION_TYPES, Document, Mention, Relation

# BioRED mostly separates identifiers with commas but sometimes with semicolons.
_ID_SEPARATORS = re.compile(r"[,;]")
# "-" is PubTator's "no identifier" placeholder.
_NO_ID = {"", "-"}
_NOVEL = {"novel": True, "no": False, "": None}
# How far a mention is looked for around wrong offsets, for the hint in span_mismatch.
_NEAR = 3


def normalize_id(raw: str) -> str:
    """One identifier as written in a mention or relation: spaces and a leading ``*`` dropped."""
    return raw.strip().lstrip("*").strip()


def split_ids(raw: str) -> tuple[str, ...]:
    """``"D001, D002;D003"`` -> ``("D001", "D002", "D003")``; ``"-"`` or ``""`` -> ``()``.

    Repeated identifiers are kept once, in order.
    """
    ids = (normalize_id(part) for part in _ID_SEPARATORS.split(raw))
    return tuple(dict.fromkeys(i for i in ids if i not in _NO_ID))


def parse_novel(raw: str) -> bool | None:
    """``Novel`` -> True, ``No`` -> False, empty -> None; anything else raises ValueError."""
    key = raw.strip().lower()
    if key not in _NOVEL:
        raise ValueError(f"novelty must be 'Novel' or 'No', found {raw!r}")
    return _NOVEL[key]


def check_relation_type(raw: str) -> None:
    """ValueError unless ``raw`` (stripped) is one of the 8 relation types."""
    if raw.strip() not in RELATION_TYPES:
        raise ValueError(f"relation type {raw.strip()!r} is not one of "
                         f"{', '.join(RELATION_TYPES)}")


def format_novel(novel: bool | None) -> str:
    return "" if novel is None else ("Novel" if novel else "No")


def span_mismatch(text: str, start: int, end: int, mention: str) -> str | None:
    """Why ``mention`` is not ``text[start:end]``, or None when the span is right.

    When the mention is found a few characters away, the message says so: offsets shifted by
    one or two usually mean a title or abstract lost (or gained) trailing spaces.
    """
    if not 0 <= start < end <= len(text):
        if start >= end:
            return f"mention {mention!r} has an empty span {start}-{end} (end must exceed start)"
        return (
            f"offsets {start}-{end} of mention {mention!r} fall outside the document text "
            f"(length {len(text)})"
        )
    found = text[start:end]
    if found == mention:
        return None
    near = [d for d in range(-_NEAR, _NEAR + 1)
            if d and start + d >= 0 and text[start + d:end + d] == mention]
    hint = ""
    if near:
        d = min(near, key=abs)
        hint = (f" (it is {abs(d)} character(s) {'later' if d > 0 else 'earlier'} in the text: "
                "did the title or abstract lose or gain spaces?)")
    return f"mention {mention!r} at {start}-{end} does not match the text there {found!r}{hint}"


def relation_problem(rel: Relation, mentioned: set[str]) -> str | None:
    """Why ``rel`` cannot stand in a document whose mentions carry ``mentioned``, or None.

    Relations link identifiers of the whole document (title or abstract passage alike).
    """
    for ident in (rel.id1, rel.id2):
        if ident in mentioned:
            continue
        what = f"relation {rel.type} {rel.id1!r}-{rel.id2!r}"
        if ident in _NO_ID:
            return (f"{what} names {ident!r}, which means 'no identifier': a mention without an "
                    "identifier takes part in no relation; remove the relation")
        if _ID_SEPARATORS.search(ident):
            return (f"{what} names the composite identifier {ident!r}; a relation links two "
                    "single identifiers: write one relation per identifier")
        return (f"{what} names identifier {ident!r}, which no mention of the document carries "
                "(title or abstract); fix the identifier or add its mention")
    return None


def _is_int(value: str) -> bool:
    return value.strip().lstrip("-").isdigit()


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Block:
    """One document being assembled; mentions keep their line number for error messages."""

    pmid: str
    line: int
    title: str | None = None
    abstract: str | None = None
    mentions: list[tuple[int, Mention]] = field(default_factory=list)
    relations: list[tuple[int, Relation]] = field(default_factory=list)


def read_pubtator(file: str | Path) -> list[Document]:
    """Parse a PubTator file; raise DataError (with file:line) on anything malformed."""
    path = Path(file)
    lines = text_lines(read_text(path, "PubTator file"))
    docs: list[Document] = []
    seen: dict[str, int] = {}
    block: _Block | None = None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            block = _finish(block, path, docs, seen)
            continue
        block = _consume(line, lineno, block, path, docs, seen)
    _finish(block, path, docs, seen)
    if not docs:
        raise DataError(f"{path}: no documents (the file is empty); a PubTator file holds "
                        "PMID|t|title and PMID|a|abstract lines, then its annotations")
    return docs


def _title_or_abstract(line: str) -> tuple[str, str, str] | None:
    """``(pmid, "t"|"a", text)`` for a title/abstract line, else None.

    Only lines whose second ``|`` field is exactly ``t`` or ``a`` (and whose first field has no
    tab) qualify: variant ids such as ``p|SUB|V|1763|M`` put pipes on mention lines too.
    """
    parts = line.split("|", 2)
    if len(parts) == 3 and parts[1] in ("t", "a") and "\t" not in parts[0]:
        return parts[0].strip(), parts[1], parts[2]
    return None


def _consume(
    line: str, lineno: int, block: _Block | None, path: Path, docs: list[Document],
    seen: dict[str, int],
) -> _Block:
    where = f"{path}:{lineno}"
    head = _title_or_abstract(line)
    pmid = head[0] if head else line.split("\t", 1)[0].strip()
    if block is not None and pmid != block.pmid:
        # Some files omit the blank line between documents; a new PMID starts a new one.
        block = _finish(block, path, docs, seen)
    if block is None:
        block = _Block(pmid=pmid, line=lineno)
    if head:
        _set_text(block, head[1], head[2], where)
    elif block.title is None:
        raise DataError(
            f"{where}: expected a title line (PMID|t|title) to start the document, found "
            f"{line[:60]!r}; is this a PubTator file? (check data.format)"
        )
    else:
        _add_annotation(block, line.split("\t"), lineno, where)
    return block


def _set_text(block: _Block, kind: str, text: str, where: str) -> None:
    attr = "title" if kind == "t" else "abstract"
    if getattr(block, attr) is not None:
        raise DataError(
            f"{where}: document {block.pmid} has a second {attr} line; separate documents "
            "with a blank line or remove the duplicate"
        )
    setattr(block, attr, text)


def _add_annotation(block: _Block, fields: list[str], lineno: int, where: str) -> None:
    if len(fields) >= 5 and _is_int(fields[1]) and _is_int(fields[2]):
        ids = split_ids(fields[5]) if len(fields) > 5 else ()
        mention = Mention(int(fields[1]), int(fields[2]), fields[4].strip(), fields[3], ids)
        block.mentions.append((lineno, mention))
    elif len(fields) in (4, 5) and not _is_int(fields[1]):
        try:
            novel = parse_novel(fields[4]) if len(fields) == 5 else None
            check_relation_type(fields[1])
        except ValueError as e:
            raise DataError(f"{where}: document {block.pmid}: {e}; fix the relation line") from e
        block.relations.append((lineno, Relation(
            fields[1].strip(), normalize_id(fields[2]), normalize_id(fields[3]), novel
        )))
    else:
        raise DataError(
            f"{where}: document {block.pmid}: cannot parse line with {len(fields)} tab-separated "
            "field(s); expected PMID|t|title, PMID|a|abstract, a mention "
            "(PMID, start, end, mention, Type, IDs) or a relation (PMID, Type, ID1, ID2[, Novel])"
        )


def _finish(
    block: _Block | None, path: Path, docs: list[Document], seen: dict[str, int]
) -> None:
    """Validate and append the block as a Document; returns None (the next block is new)."""
    if block is None:
        return None
    if block.title is None:
        raise DataError(
            f"{path}:{block.line}: document {block.pmid} has no title line ({block.pmid}|t|...); "
            "every document block must start with its title and abstract lines"
        )
    if block.pmid in seen:
        raise DataError(
            f"{path}:{block.line}: document {block.pmid} appears twice (first at line "
            f"{seen[block.pmid]}); remove the duplicate block"
        )
    seen[block.pmid] = block.line
    doc = Document(block.pmid, block.title, block.abstract or "")
    text = doc.text
    for lineno, mention in block.mentions:
        problem = span_mismatch(text, mention.start, mention.end, mention.text)
        if problem:
            raise DataError(
                f"{path}:{lineno}: document {block.pmid}: {problem}; fix the offsets (they index "
                "title + ' ' + abstract) or the mention text"
            )
        doc.mentions.append(mention)
    mentioned = {i for m in doc.mentions for i in m.ids}
    for lineno, relation in block.relations:
        problem = relation_problem(relation, mentioned)
        if problem:
            raise DataError(f"{path}:{lineno}: document {block.pmid}: {problem}")
        doc.relations.append(relation)
    docs.append(doc)
    return None


# --- writing -------------------------------------------------------------------------------


def relation_lines(doc_id: str, relations: Iterable[Relation]) -> list[str]:
    """``PMID<TAB>Type<TAB>ID1<TAB>ID2<TAB>Novel|No`` lines (no novelty column when unknown)."""
    lines = []
    for rel in relations:
        fields = [doc_id, rel.type, rel.id1, rel.id2]
        if rel.novel is not None:
            fields.append(format_novel(rel.novel))
        lines.append("\t".join(fields))
    return lines


def _one_line(text: str) -> str:
    # A newline or tab would break the line format; a space has the same length, so offsets hold.
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def document_lines(doc: Document) -> list[str]:
    lines = [f"{doc.id}|t|{_one_line(doc.title)}", f"{doc.id}|a|{_one_line(doc.abstract)}"]
    for m in doc.mentions:
        ids = ",".join(m.ids) or "-"
        lines.append(f"{doc.id}\t{m.start}\t{m.end}\t{_one_line(m.text)}\t{m.type}\t{ids}")
    lines.extend(relation_lines(doc.id, doc.relations))
    return lines


def write_pubtator(docs: Iterable[Document], file: str | Path) -> Path:
    """Write documents as PubTator (blank line after each block); returns the path."""
    path = Path(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = ["\n".join(document_lines(doc)) + "\n" for doc in docs]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path
