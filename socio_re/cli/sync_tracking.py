"""Upload the MLflow tracking data a run kept offline while the server could not be reached.

    python -m socio_re.cli.sync_tracking outputs/socrates/runs/2024-05-01_12-00-00
    python -m socio_re.cli.sync_tracking RUN_DIR... --tracking-uri http://mlflow.example:5000

Each run directory's ``mlflow_offline/`` record goes to the server it was meant for (or
``--tracking-uri``): the experiment is created if needed, the run the job had already started
there is continued (else a new one is created), then tags, params not there yet, metrics,
artifacts and the final status are sent. The record is then renamed ``mlflow_offline.uploaded``
and ``tracking.json`` names the run, so a resumed job continues it and running this again
uploads nothing twice.

A local sqlite store is made ready first, under its lock (created if new; repaired if a schema
upgrade stopped halfway: :func:`socio_re.tracking.store.prepare_store`); one that cannot be
repaired is one line naming the file and the fix, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.errors import UserError


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="socio-re-sync-tracking",
                                description=__doc__.split("\n")[0])
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="run directories holding an mlflow_offline/ record")
    p.add_argument("--tracking-uri", default=None,
                   help="upload here instead of the tracking URI the record was meant for")
    return p.parse_args(argv)


def sync(run_dirs: list[Path], tracking_uri: str | None) -> None:
    from socio_re.tracking.offline import upload_record

    failed = 0
    for run_dir in run_dirs:
        try:
            result = upload_record(run_dir, tracking_uri)
        except UserError as exc:
            if len(run_dirs) == 1:
                raise
            # Several directories: upload the others, report each failure on its own line.
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(result.line(), flush=True)
    if failed:
        raise UserError(f"{failed} of {len(run_dirs)} run directories were not uploaded")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: sync(args.run_dirs, args.tracking_uri))


if __name__ == "__main__":
    main()
