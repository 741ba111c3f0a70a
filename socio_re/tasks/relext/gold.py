"""Document-level gold relations, for the shared task's scores of a run (metrics/shared_task.py).

The instance metrics (``test/micro_f1``, ...) score the candidate pairs the run classified. The
shared task scores the relations a system *lists* against every curated relation of the
documents, so a gold relation whose pair never became an instance (its entity types are never
related in training: ``data.filter_type_pairs``) or was not predicted (``task.eval.max_rows``)
is a miss there. So the prepared corpus keeps its gold relations as LitCoin relations TSVs
(``gold_relations_train.tsv``, ``gold_relations_test.tsv``); a run writes the part of them for
its split (``val_gold_relations.tsv``: the abstracts of its validation fold) next to its
submission file, and scores that submission file against it exactly as

    python -m socio_re.cli.score_relext --gold RUN/test_gold_relations.tsv \
        --pred RUN/test_litcoin_submission.tsv

does (tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

COLUMNS = ("id", "abstract_id", "type", "entity_1_id", "entity_2_id", "novel")
METRIC_PREFIX = "shared_task"  # test/shared_task/pair_type_f1, ...


def gold_file(directory: Path, split: str) -> Path:
    return Path(directory) / f"gold_relations_{split}.tsv"


def _novel(value: bool | None) -> str:
    return "" if value is None else ("Novel" if value else "No")


def _write(path: Path, rows: Iterable[tuple[str, str, str, str, bool | None]]) -> Path:
    lines = ["\t".join(COLUMNS)]
    for i, (doc, rel_type, id1, id2, novel) in enumerate(rows):
        lines.append("\t".join((str(i), doc, rel_type, id1, id2, _novel(novel))))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_gold_from_documents(docs: Iterable, path: Path) -> Path:
    """Every relation of ``docs`` (Document objects), as curated."""
    return _write(path, ((d.id, r.type, r.id1, r.id2, r.novel)
                         for d in docs for r in d.relations))


def write_gold_from_instances(instances: Iterable, path: Path) -> Path:
    """The related pairs of pre-split instance files (they hold every pair of a document)."""
    return _write(path, ((i.abstract_id, i.type, i.entity_a_id, i.entity_b_id, i.novel)
                         for i in instances if i.type != "NOT"))


def write_split_gold(source: Path, abstract_ids: Iterable[str], out: Path) -> Path:
    """The rows of ``source`` (a gold TSV written above) for ``abstract_ids``."""
    keep = {str(a) for a in abstract_ids}
    lines = source.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines[1:] if line.split("\t")[1] in keep]
    out.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    return out


def shared_task_metrics(gold: Path, submission: Path, prefix: str) -> dict[str, float]:
    """P/R/F1 of the four settings, ``<prefix>/shared_task/<setting>_<p|r|f1>``, of the
    submission file against the gold file (both read as the scoring command reads them)."""
    from socio_re.tasks.relext.shared_task import SETTINGS, score_files

    scores, _, _ = score_files(gold, submission)
    return {f"{prefix}/{METRIC_PREFIX}/{setting}_{stat}": float(scores[f"{setting}_{stat}"])
            for setting in SETTINGS for stat in ("precision", "recall", "f1")
            if f"{setting}_{stat}" in scores}
