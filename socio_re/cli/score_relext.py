"""Score relation predictions as the BioRED / BC8 shared task does.

    python -m socio_re.cli.score_relext --gold relations_dev.csv --pred submission.csv
    python -m socio_re.cli.score_relext --gold /data/BioRED --split test --pred pred.PubTator
    python -m socio_re.cli.score_relext --gold Test.PubTator --pred pred.PubTator --json

GOLD and PRED are each a LitCoin relations TSV (``id abstract_id type entity_1_id entity_2_id
novel``, tab-separated despite .csv), a PubTator file (full, or its relation lines only:
``PMID<TAB>Type<TAB>ID1<TAB>ID2[<TAB>Novel|No]``) or a LitCoin/BioRED directory or BioC JSON
file. Prints precision, recall and F1 (percent) with TP/FP/FN for entity pair, pair + type,
pair + novelty and all (micro over documents; definitions in socio_re/tasks/relext/shared_task.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from socio_re.cli.errors import run_reporting_user_errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m socio_re.cli.score_relext",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--gold", required=True, help="gold relations: file or directory")
    p.add_argument("--pred", required=True, help="predicted relations: file or directory")
    p.add_argument("--split", default=None,
                   help="the split to use when a directory holds several (e.g. test)")
    p.add_argument("--ignore-unknown-docs", action="store_true",
                   help="drop predictions for documents gold does not contain (default: "
                        "they count as false positives)")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    return p.parse_args(argv)


def score(args: argparse.Namespace) -> tuple[dict, list[str]]:
    from socio_re.tasks.relext.shared_task import score_files

    scores, gold, pred = score_files(
        args.gold, args.pred, args.split,
        unknown_documents="ignore" if args.ignore_unknown_docs else "count")
    notes = [
        f"gold: {gold.path} ({gold.kind}): {scores['gold_documents']} documents, "
        f"{scores['gold_relations']} relations",
        f"pred: {pred.path} ({pred.kind}): {scores['pred_relations']} relations"
        + (f", {pred.skipped} non-relation lines skipped" if pred.skipped else ""),
    ]
    if scores["pred_unknown_doc_relations"]:
        verb = "ignored" if args.ignore_unknown_docs else "counted as false positives"
        notes.append(f"note: {scores['pred_unknown_doc_relations']} predicted relations are "
                     f"for documents not in gold ({verb})")
    if scores["pred_conflicting_pairs"]:
        notes.append(f"note: {scores['pred_conflicting_pairs']} pairs are predicted with more "
                     "than one type or novelty (each counts in the type/novelty settings)")
    if scores["gold_unknown_novelty"]:
        notes.append(f"note: {scores['gold_unknown_novelty']} gold relations have no novelty; "
                     "the novelty settings are not scored")
    return scores, notes


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    scores, notes = run_reporting_user_errors(lambda: score(args))
    if args.json:
        print(json.dumps(scores, indent=1))
        return
    from socio_re.tasks.relext.shared_task import format_table

    print("\n".join(notes))
    print(format_table(scores))


if __name__ == "__main__":
    main()
