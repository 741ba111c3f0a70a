"""Compare tracked runs (or sweeps): rank them by a metric, show what differs, plot the trends.

    python -m socio_re.cli.compare                                # socrates and relext runs
    python -m socio_re.cli.compare --experiment relext --metric val/micro_f1 test/micro_f1
    python -m socio_re.cli.compare --sweep relext/fold=0,1,2,3,4   # the jobs of one sweep
    python -m socio_re.cli.compare --by sweeps --top 10            # sweeps by mean over jobs
    python -m socio_re.cli.compare --filter "params.model.name = 'tiny-causal'"
    python -m socio_re.cli.compare --experiment socrates --wide --include-failed

Reads the MLflow store (``$MLFLOW_TRACKING_URI``, else ./mlflow.db) without writing to it. The
table fits a terminal: rank, run, status, ``objective`` and a few headline metrics of the task,
and only the hyperparameters the user set (the run's command-line overrides) that differ
between the runs, long values shortened; for runs logged without their overrides, the differing
params minus derived engine settings (``strategy.deepspeed.*``, ...) and bookkeeping. Failed and
killed runs are left out (``--include-failed`` lists them); running ones are listed with their
status. ``--wide`` prints every differing param in full; ``compare.csv`` always holds them all.
Plots: the first metric against learning rate and batch size (when they vary; one series per
value of the other), its spread over folds per sweep (runs with a fold tag), and the train loss
of the best runs. ``objective`` is a validation metric: lower-is-better for socrates (validation
loss, or validation Wasserstein when the validation split is scored) and higher-is-better for
relext (validation micro-F1); other names by what they measure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m socio_re.cli.compare",
                                description=__doc__.split("\n")[0])
    p.add_argument("--experiment", nargs="+", action="extend", metavar="NAME",
                   help="MLflow experiment(s) (default: every task's, whichever exist)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.add_argument("--sweep", default=None, metavar="SWEEP_ID",
                   help="only this sweep (its sweep_id tag, e.g. <task>/fold=0,1,2, or the "
                        "parent run id)")
    p.add_argument("--by", choices=["runs", "sweeps"], default="runs",
                   help="rank single runs (sweep parents left out; default) or whole sweeps by "
                        "the mean over their finished jobs")
    p.add_argument("--metric", nargs="+", action="extend", metavar="M",
                   help="metric(s) to show; the first ranks (default: objective, then a few "
                        "headline metrics of the task)")
    direction = p.add_mutually_exclusive_group()
    direction.add_argument("--lower-is-better", dest="lower", action="store_const", const=True,
                           default=None, help="rank the smallest first metric first")
    direction.add_argument("--higher-is-better", dest="lower", action="store_const",
                           const=False, help="rank the largest first metric first")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows to print (default 20; compare.csv has all)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where compare.csv and the plots go (default: ./compare/<experiment>; "
                        "with several experiments, DIR/<experiment>)")
    p.add_argument("--loss-curves", type=int, default=5, metavar="K",
                   help="train/loss curves of the K best runs (default 5; 0: no plot)")
    p.add_argument("--filter", default="", metavar="FILTER",
                   help="MLflow search filter on the runs, e.g. \"params.fold = '0'\"")
    p.add_argument("--include-failed", "--all", dest="include_failed", action="store_true",
                   help="also list FAILED and KILLED runs (sweeps); left out by default")
    p.add_argument("--wide", action="store_true",
                   help="print every differing param in full, engine internals included "
                        "(default: the ones the user set, shortened); compare.csv has them all")
    args = p.parse_args(argv)
    if args.top < 1:
        p.error("--top must be at least 1")
    if args.loss_curves < 0:
        p.error("--loss-curves must be 0 or more")
    return args


def _out_dir(args: argparse.Namespace, experiment: str, several: bool) -> Path:
    safe = experiment.replace("/", "_").replace(os.sep, "_")
    if args.out is None:
        return Path("compare") / safe
    return args.out / safe if several else args.out


def print_table(report, top: int, wide: bool = False) -> None:
    """The ranked rows as a rich table. Off a terminal rich would squeeze it into 80 columns
    (cutting names and values), so there the console is made as wide as the table needs."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from socio_re.tracking.compare_table import table_rows, title

    headers, rows = table_rows(report, wide)
    shown = rows[:top]
    table = Table(title=title(report, len(shown), len(rows)), header_style="bold")
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if i == 0 or h in report.metrics else "left")
    for row in shown:
        table.add_row(*(Text(cell) for cell in row))  # Text: no markup parsing of values
    console = Console(file=sys.stdout, soft_wrap=True)
    if not console.is_terminal:
        wide = Console(width=100_000)
        width = Measurement.get(wide, wide.options, table).maximum
        console = Console(file=sys.stdout, soft_wrap=True, width=max(width, 80))
    console.print(table)


def build_reports(client, experiments: list, opts, named: bool) -> list:
    """One report per experiment. Experiments the user named must all work; of the default
    ones (socrates, relext) one without matching runs or metric is skipped with a note, since
    a metric or sweep usually belongs to one task only."""
    from socio_re.errors import UserError
    from socio_re.tracking.compare import build_report

    reports, errors = [], []
    for experiment in experiments:
        try:
            reports.append(build_report(client, experiment, opts))
        except UserError as exc:
            if named or len(experiments) == 1:
                raise
            errors.append((experiment.name, exc))
    if not reports:  # every default experiment failed: say why for each
        raise errors[0][1] if len(errors) == 1 else UserError(
            " / ".join(str(exc) for _, exc in errors))
    for name, exc in errors:
        print(f"note: skipped experiment {name!r}: {exc}", file=sys.stderr)
    return reports


def compare(args: argparse.Namespace) -> list:
    from socio_re.tracking.compare import Options, find_experiments, open_client, write_outputs
    from socio_re.tracking.compare_provenance import provenance_lines
    from socio_re.tracking.compare_table import best_line
    from socio_re.tracking.store import default_tracking_uri

    # A tracking server that is down would otherwise be retried for minutes before failing.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    uri = args.tracking_uri or default_tracking_uri()
    client = open_client(uri)
    experiments = find_experiments(client, args.experiment)
    opts = Options(metrics=args.metric, by=args.by, sweep=args.sweep, lower=args.lower,
                   filter_string=args.filter, include_failed=args.include_failed)
    reports = build_reports(client, experiments, opts, named=bool(args.experiment))
    for report in reports:
        print_table(report, args.top, args.wide)
        for line in provenance_lines(report.provenance, report.without_provenance):
            print(line)
        out = _out_dir(args, report.experiment, len(reports) > 1)
        written, skipped = write_outputs(client, report, out, args.loss_curves)
        print("wrote " + ", ".join(str(p) for p in written))
        for name, reason in skipped.items():
            print(f"skipped {name}: {reason}")
        print(best_line(report))
    return reports


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: compare(args))


if __name__ == "__main__":
    main()
