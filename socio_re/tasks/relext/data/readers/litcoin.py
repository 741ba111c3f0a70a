"""LitCoin NLP Challenge reader and writer.

Three files per split, TAB-separated despite the ``.csv`` name, header row first::

    abstracts_<split>.csv   abstract_id  title  abstract
    entities_<split>.csv    id  abstract_id  offset_start  offset_finish  type  mention  entity_ids
    relations_<split>.csv   id  abstract_id  type  entity_1_id  entity_2_id  novel

The relations file is optional (the real test split has none). Offsets index
``title + " " + abstract`` (a title's trailing spaces count). Identifier lists, ``-`` and
relation identifiers are read as in :mod:`~socio_re.tasks.relext.data.readers.pubtator`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from socio_re.data.text import read_text
from socio_re.errors import DataError
from socio_re.tasks.relext.data.documents import Document, Mention, Relation
from socio_re.tasks.relext.data.readers.pubtator import (
    check_relation_type,
    format_novel,
    normalize_id,
    parse_novel,
    relation_problem,
    span_mismatch,
    split_ids,
)

ABSTRACT_COLUMNS = ("abstract_id", "title", "abstract")
ENTITY_COLUMNS = (
    "id", "abstract_id", "offset_start", "offset_finish", "type", "mention", "entity_ids",
)
RELATION_COLUMNS = ("id", "abstract_id", "type", "entity_1_id", "entity_2_id", "novel")
# Without a novel column every relation's novelty is unknown (None).
_OPTIONAL = {"novel"}


def litcoin_files(directory: str | Path, split: str) -> dict[str, Path]:
    d = Path(directory)
    return {
        "abstracts": d / f"abstracts_{split}.csv",
        "entities": d / f"entities_{split}.csv",
        "relations": d / f"relations_{split}.csv",
    }


def read_litcoin(directory: str | Path, split: str) -> list[Document]:
    """Documents of one split, in the order of the abstracts file."""
    files = litcoin_files(directory, split)
    for kind in ("abstracts", "entities"):
        if not files[kind].is_file():
            raise DataError(
                f"LitCoin {kind} file {files[kind]} does not exist; a LitCoin split needs "
                f"abstracts_{split}.csv and entities_{split}.csv (relations_{split}.csv optional)"
            )
    docs = _read_abstracts(files["abstracts"])
    _read_entities(files["entities"], docs)
    if files["relations"].is_file():
        _read_relations(files["relations"], docs)
    return list(docs.values())


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """``(file:line, row)`` for each data row, with the header checked and column counts too."""
    text = read_text(path, "LitCoin file")
    if not text.strip():
        raise DataError(f"{path}: the file is empty; expected the tab-separated header "
                        f"{'<TAB>'.join(columns)} and one row per line")
    with io.StringIO(text, newline="") as f:
        # QUOTE_NONE: titles contain bare double quotes, which are text, not CSV quoting.
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = [h.strip() for h in next(reader, [])]
            _check_header(path, header, columns)
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{where}: expected {len(header)} tab-separated columns "
                        f"({', '.join(header)}), found {len(row)}; LitCoin files are "
                        "tab-separated and no field may contain a tab or newline"
                    )
                yield where, dict(zip(header, row, strict=True))
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: cannot parse LitCoin file: {e}") from e


def _check_header(path: Path, header: list[str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in header and c not in _OPTIONAL]
    if not missing:
        return
    hint = ""
    if len(header) == 1 and "," in header[0]:
        hint = " (the header looks comma-separated; LitCoin files are tab-separated)"
    raise DataError(
        f"{path}:1: header lacks column(s) {', '.join(missing)}{hint}; expected the tab-separated "
        f"header {'<TAB>'.join(columns)}"
    )


def _read_abstracts(path: Path) -> dict[str, Document]:
    docs: dict[str, Document] = {}
    for where, row in _rows(path, ABSTRACT_COLUMNS):
        doc_id = row["abstract_id"].strip()
        if doc_id in docs:
            raise DataError(f"{where}: abstract {doc_id} appears twice; remove the duplicate row")
        docs[doc_id] = Document(doc_id, row["title"], row["abstract"])
    return docs


def _document(docs: dict[str, Document], row: dict[str, str], where: str, path: Path) -> Document:
    doc_id = row["abstract_id"].strip()
    if doc_id not in docs:
        raise DataError(
            f"{where}: abstract_id {doc_id} is not in the abstracts file next to {path.name}; "
            "check that the entities/relations files belong to the same split"
        )
    return docs[doc_id]


def _offset(row: dict[str, str], column: str, where: str) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise DataError(
            f"{where}: {column} must be an integer, found {row[column]!r} "
            f"(abstract {row['abstract_id'].strip()}, entity row {row['id'].strip()})"
        ) from None


def _read_entities(path: Path, docs: dict[str, Document]) -> None:
    for where, row in _rows(path, ENTITY_COLUMNS):
        doc = _document(docs, row, where, path)
        start = _offset(row, "offset_start", where)
        end = _offset(row, "offset_finish", where)
        mention = Mention(start, end, row["type"].strip(), row["mention"],
                          split_ids(row["entity_ids"]))
        problem = span_mismatch(doc.text, start, end, mention.text)
        if problem:
            raise DataError(
                f"{where}: abstract {doc.id}, entity row {row['id'].strip()}: {problem}; fix the "
                "offsets (they index title + ' ' + abstract) or the mention text"
            )
        doc.mentions.append(mention)


def _read_relations(path: Path, docs: dict[str, Document]) -> None:
    # Every entities row is read before the first relation, so the mentions are complete here.
    mentioned: dict[str, set[str]] = {}
    for where, row in _rows(path, RELATION_COLUMNS):
        doc = _document(docs, row, where, path)
        if doc.id not in mentioned:
            mentioned[doc.id] = {i for m in doc.mentions for i in m.ids}
        relation = Relation(
            row["type"].strip(), normalize_id(row["entity_1_id"]),
            normalize_id(row["entity_2_id"]), None, row["id"].strip(),
        )
        try:
            novel = parse_novel(row.get("novel", ""))
            check_relation_type(row["type"])
            problem = relation_problem(relation, mentioned[doc.id])
            if problem:
                raise ValueError(problem)
        except ValueError as e:
            raise DataError(
                f"{where}: abstract {doc.id}, relation row {row['id'].strip()}: {e}"
            ) from None
        doc.relations.append(Relation(relation.type, relation.id1, relation.id2, novel,
                                      relation.relation_id))


# --- writing -------------------------------------------------------------------------------


def _write_tsv(path: Path, columns: tuple[str, ...], rows: Iterable[Iterable[object]]) -> Path:
    # Written by hand rather than with csv.writer: LitCoin fields are never quoted.
    lines = ["\t".join(columns)]
    for row in rows:
        cells = [str(c) for c in row]
        bad = [c for c in cells if "\t" in c or "\n" in c or "\r" in c]
        if bad:
            raise DataError(f"cannot write {path}: field {bad[0]!r} contains a tab or newline")
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_litcoin(
    docs: Iterable[Document], directory: str | Path, split: str, *, relations: bool = True
) -> list[Path]:
    """Write one split in LitCoin's format; entity and relation row ids count from 0."""
    docs = list(docs)
    files = litcoin_files(directory, split)
    files["abstracts"].parent.mkdir(parents=True, exist_ok=True)
    written = [
        _write_tsv(files["abstracts"], ABSTRACT_COLUMNS,
                   ((d.id, d.title, d.abstract) for d in docs)),
        _write_tsv(files["entities"], ENTITY_COLUMNS, (
            (i, d.id, m.start, m.end, m.type, m.text, ",".join(m.ids))
            for i, (d, m) in enumerate((d, m) for d in docs for m in d.mentions)
        )),
    ]
    if relations:
        written.append(_write_tsv(files["relations"], RELATION_COLUMNS, (
            (r.relation_id if r.relation_id is not None else i, d.id, r.type, r.id1, r.id2,
             format_novel(r.novel))
            for i, (d, r) in enumerate((d, r) for d in docs for r in d.relations)
        )))
    return written
