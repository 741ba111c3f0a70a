"""Recompute a sweep's cross-validation aggregate from MLflow tags alone.

    python -m socio_re.cli.aggregate multirun/relext/fold=0,1,2,3,4
    python -m socio_re.cli.aggregate relext/fold=0,1,2,3,4 --tracking-uri http://127.0.0.1:5000

For sweeps whose launching process died before it could summarise them (the jobs, each tagged
with ``sweep_id``, finished on their own). The argument is the sweep directory (its
``sweep.json`` names the store and the parent run) or the sweep id ``<task>/<sweep name>``.
Logs ``cv/<metric>/mean|std`` (and ``oof/*`` for relext folds) on the parent run, creating the
parent if it was never made, and prints them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m socio_re.cli.aggregate",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("sweep", help="sweep directory, or sweep id <task>/<sweep name>")
    p.add_argument("--tracking-uri", default=None,
                   help="default: the sweep's sweep.json, else $MLFLOW_TRACKING_URI or ./mlflow.db")
    p.add_argument("--experiment", default=None, help="default: the sweep's, else the task name")
    return p.parse_args(argv)


def aggregate(args: argparse.Namespace) -> dict:
    from socio_re.sweeps.parent import SWEEP_FILE, aggregate_sweep
    from socio_re.tracking.store import default_tracking_uri

    directory = Path(args.sweep)
    info = {}
    if (directory / SWEEP_FILE).is_file():
        info = json.loads((directory / SWEEP_FILE).read_text())
        sweep_id = info["sweep_id"]
    elif directory.is_dir():
        sweep_id = f"{directory.parent.name}/{directory.name}"  # multirun/<task>/<name>
    else:
        sweep_id = args.sweep
    uri = args.tracking_uri or info.get("tracking_uri") or default_tracking_uri()
    experiment = args.experiment or info.get("experiment") or sweep_id.split("/", 1)[0]
    return aggregate_sweep(uri, experiment, sweep_id, info.get("parent_run_id"),
                           directory if directory.is_dir() else None)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = run_reporting_user_errors(lambda: aggregate(args))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep {result['sweep_id']}: {result['jobs']} finished jobs")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    metrics = result["metrics"]
    for key in sorted(k for k in metrics if k.endswith("/mean")):
        base = key[: -len("/mean")]
        table.add_row(base.removeprefix("cv/"), f"{metrics[key]:.4g}",
                      f"{metrics.get(base + '/std', float('nan')):.4g}")
    for key in sorted(k for k in metrics if k.startswith("oof/")):
        table.add_row(key, f"{metrics[key]:.4g}", "pooled")
    console = Console(width=max(Console().width, 100))
    console.print(table)
    console.print(f"logged on MLflow parent run {result['parent_run_id']} in experiment "
                  f"'{result['experiment']}' at {result['tracking_uri']}")


if __name__ == "__main__":
    main()
