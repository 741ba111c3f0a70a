"""What a sweep prints when it ends: the table of its jobs, then its result.

- a fold sweep (``fold=0,1,2,3,4``): the cross-validation table, one row per fold with its
  validation and test headline metrics, the mean ± sample sd over the folds, and the pooled
  out-of-fold scores (tasks with a ``pool_folds`` hook);
- any other sweep (a grid): its jobs ranked by ``objective``, best first.

Both are computed from the jobs' done markers (``done.json``), not from MLflow, so they are
printed with ``tracking=none`` too; the pooled out-of-fold scores come from the MLflow
aggregate (``aggregate_sweep``) when there is one, else from the job directories.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socio_re.sweeps.state import read_done

if TYPE_CHECKING:
    from rich.console import Console

    from socio_re.sweeps.state import JobRecord

log = logging.getLogger(__name__)

# Statuses in the order the count line lists them; "not started" is a job a Ctrl-C stopped
# before it was launched (it has no log yet).
STATUSES = ("completed", "skipped", "interrupted", "not started", "failed")
STATUS_STYLE = {"completed": "green", "skipped": "cyan", "interrupted": "yellow",
                "not started": "yellow", "failed": "red"}
FINISHED = ("completed", "skipped")  # jobs with a done marker, hence metrics
SPLITS = ("val", "test")
OBJECTIVE = "objective"


def _console() -> Console:
    from rich.console import Console

    # Wide enough for a table of paths even when stdout is not a terminal (80 columns).
    return Console(width=max(Console().width, 120))


# --- the table of jobs -----------------------------------------------------------------------


def print_sweep_summary(sweep_id: str, sweep_dir: Path, parent: str | None, uri: str | None,
                        records: Sequence[JobRecord]) -> None:
    from rich.table import Table

    table = Table(title=f"sweep {sweep_id}", show_lines=False)
    with_nodes = any(r.nodes for r in records)  # on SLURM: where each job ran
    for col in ("#", "job", "status", "objective", *(["node"] if with_nodes else []), "details"):
        table.add_column(col, overflow="fold")
    for r in records:
        obj = r.metrics.get(OBJECTIVE)
        table.add_row(str(r.num), r.name, f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]",
                      f"{obj:.4g}" if _is_number(obj) else "—",
                      *([r.nodes or "—"] if with_nodes else []), _details(r, sweep_dir))
    console = _console()
    console.print(table)
    console.print(f"{status_counts(records)}; sweep dir {sweep_dir}", soft_wrap=True)
    for r in records:  # unwrapped, one line each: easy to grep and to copy the log path
        for event in r.events:  # e.g. a node lost mid-training, and the requeue
            console.print(f"job #{r.num} {r.name}: {event}", soft_wrap=True, markup=False,
                          highlight=False)
        if r.error:
            where = f" (log: {r.log})" if r.log else ""
            console.print(f"job #{r.num} {r.name} {r.status}: {r.error}{where}",
                          soft_wrap=True, markup=False, highlight=False)
    if parent:
        console.print(f"MLflow parent run {parent} at {uri} (aggregate: cv/<metric>/mean|std"
                      ", oof/* for pooled folds); compare: python -m socio_re.cli.compare "
                      f"--sweep {sweep_id}")


def _details(rec: JobRecord, sweep_dir: Path) -> str:
    """The job's directory when it finished; else why not, and where its logs are (a job that
    never started has none: an empty path would print as ``log: .``)."""
    if not rec.error:
        return _relative(rec.directory, sweep_dir) + "/"
    error = rec.error.split(": ", 1)[-1] if rec.error.startswith("exit ") else rec.error
    if not rec.log:
        return error
    run_log = Path(rec.directory) / "run.log"
    return f"{error}\nlog: {_relative(rec.log, sweep_dir)}" + \
        (f"\n     {_relative(run_log, sweep_dir)}" if run_log.exists() else "")


def _relative(path: str | Path, sweep_dir: Path) -> str:
    """Paths inside the sweep directory relative to it (its full path is printed below)."""
    p = Path(path)
    return str(p.relative_to(sweep_dir)) if p.is_relative_to(sweep_dir) else str(p)


def status_counts(records: Sequence[JobRecord]) -> str:
    """``3 completed, 1 not started``: the statuses that occur, in a fixed order."""
    counts = {s: sum(r.status == s for r in records) for s in STATUSES}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


# --- the sweep's result ----------------------------------------------------------------------


def print_sweep_result(records: Sequence[JobRecord], task: str,
                       aggregate: dict[str, Any] | None = None) -> None:
    """The cross-validation table(s) of a fold sweep, else the ranking of a grid's jobs.
    ``aggregate`` is what ``parent.aggregate_sweep`` returned (None without MLflow)."""
    groups = fold_groups(records)
    if not groups:
        print_ranking(records, task)
        return
    for setting, jobs in groups.items():
        # The MLflow aggregate pools every fold of the sweep: right only for a single setting.
        pooled = _logged_oof(aggregate) if len(groups) == 1 else {}
        print_cv_table(jobs, task, setting, pooled or None)
    ensemble = (aggregate or {}).get("ensemble")
    if ensemble:
        shown = ", ".join(f"{k.removeprefix('test/')} {v:.4f}"
                          for k, v in ensemble["metrics"].items()
                          if k in ("test/micro_f1", "test/macro_f1"))
        print(f"fold ensemble (mean of {ensemble['models']} fold models) on test: "
              f"{shown or 'no gold labels'}; {ensemble['dir']}", flush=True)


def job_overrides(rec: JobRecord) -> dict[str, str]:
    """``{"fold": "3", "trainer.learning_rate": "0.001"}`` from the job's override string."""
    pairs = (o.lstrip("+~").split("=", 1) for o in rec.overrides.split() if "=" in o)
    return dict(pairs)


def fold_groups(records: Sequence[JobRecord]) -> dict[str, list[JobRecord]]:
    """A fold sweep's jobs grouped by their setting (the overrides other than ``fold`` that
    differ between jobs; "" when only the fold does); {} when the jobs do not differ by fold."""
    overrides = [job_overrides(r) for r in records]
    if len({o.get("fold") for o in overrides}) < 2:
        return {}
    keys = sorted({k for o in overrides for k in o
                   if k != "fold" and len({other.get(k) for other in overrides}) > 1})
    groups: dict[str, list[JobRecord]] = {}
    for rec, o in zip(records, overrides, strict=True):
        groups.setdefault(" ".join(f"{k}={o.get(k)}" for k in keys), []).append(rec)
    return groups


def job_metrics(rec: JobRecord) -> dict[str, Any]:
    """A finished job's final metrics: those the launcher read, else its done marker's."""
    if rec.status not in FINISHED:
        return {}
    return rec.metrics or (read_done(Path(rec.directory)) or {}).get("metrics", {})


def headline_columns(metrics: Sequence[dict[str, Any]], task: str | None = None) -> list[str]:
    """``val/<m>`` and ``test/<m>`` for the score families some job has (the task's
    ``TaskSpec.table_scores``; every task's for an unknown one), then ``objective``."""
    from socio_re.config.tasks import TASKS

    specs = [TASKS[task]] if task in TASKS else list(TASKS.values())
    families = dict.fromkeys(f for spec in specs for f in spec.table_scores)
    names = [f"{split}/{m}" for split in SPLITS for m in families]
    return [n for n in [*names, OBJECTIVE] if any(_is_number(m.get(n)) for m in metrics)]


def print_cv_table(jobs: Sequence[JobRecord], task: str, setting: str = "",
                   pooled: dict[str, float] | None = None) -> None:
    """One row per finished fold, the mean ± sd over them and the pooled out-of-fold scores
    (``oof/<m>``, shown under ``val/<m>``: they score the folds' validation predictions)."""
    from rich.table import Table

    finished = sorted((r for r in jobs if r.status in FINISHED), key=_fold_key)
    if not finished:
        return
    metrics = [job_metrics(r) for r in finished]
    columns = headline_columns(metrics, task)
    pooled = pooled if pooled is not None else _pooled_from_directories(finished, task)
    table = Table()
    table.add_column("fold")
    for column in columns:
        table.add_column(column, justify="right")
    for rec, m in zip(finished, metrics, strict=True):
        table.add_row(job_overrides(rec).get("fold", rec.name),
                      *(format_value(m.get(c)) for c in columns))
    table.add_section()
    table.add_row("mean ± sd", *(_mean_sd([m.get(c) for m in metrics]) for c in columns))
    if pooled:
        table.add_row("pooled out-of-fold", *(format_value(pooled.get(_oof_name(c)))
                                              for c in columns))
    # Heading and note as plain lines: a table's title and caption wrap at its own width.
    _print_table(f"cross-validation{f' {setting}' if setting else ''}: {len(finished)} of "
                 f"{len(jobs)} folds finished", table, _cv_note(task, pooled))


def print_ranking(records: Sequence[JobRecord], task: str) -> None:
    """The finished jobs best first by ``objective``, in the task's direction (the one
    ``python -m socio_re.cli.compare`` ranks by)."""
    from rich.table import Table

    from socio_re.tracking.compare import lower_is_better, rank_order

    finished = [r for r in records if r.status in FINISHED]
    if len(finished) < 2:
        return  # nothing to rank
    metrics = [job_metrics(r) for r in finished]
    lower = lower_is_better(OBJECTIVE, task)
    order = rank_order([_number(m.get(OBJECTIVE)) for m in metrics], lower)
    columns = headline_columns(metrics, task)
    table = Table()
    for column in ("rank", "#", "job"):
        table.add_column(column)
    for column in columns:
        table.add_column(column, justify="right")
    for rank, i in enumerate(order, 1):
        table.add_row(str(rank), str(finished[i].num), finished[i].name,
                      *(format_value(metrics[i].get(c)) for c in columns))
    better = "lower" if lower else "higher"
    _print_table(f"jobs ranked by {OBJECTIVE}, a validation metric ({better} is better for "
                 f"{task}; test metrics are reported, never ranked on): {len(finished)} of "
                 f"{len(records)} finished", table)


def _print_table(heading: str, table: Any, note: str = "") -> None:
    console = _console()
    console.print(heading, soft_wrap=True, markup=False, highlight=False)
    console.print(table)
    if note:
        console.print(note, soft_wrap=True, markup=False, highlight=False)


# --- pooled out-of-fold scores ---------------------------------------------------------------


def _logged_oof(aggregate: dict[str, Any] | None) -> dict[str, float]:
    metrics = (aggregate or {}).get("metrics", {})
    return {k: v for k, v in metrics.items() if k.startswith("oof/")}


def _pooled_from_directories(jobs: Sequence[JobRecord], task: str) -> dict[str, float]:
    """What ``aggregate_sweep`` logs as ``oof/*``, from the fold directories' validation
    predictions (no MLflow aggregate: tracking=none, or several settings in one sweep)."""
    from socio_re.config.tasks import TASKS

    if task not in TASKS:
        return {}
    try:
        return TASKS[task].pool_folds([Path(r.directory) for r in jobs])
    except Exception as exc:  # a report must not turn a finished sweep into a failure
        log.warning("no pooled out-of-fold scores: %s: %s", type(exc).__name__, exc)
        return {}


def _oof_name(column: str) -> str:
    return "oof/" + column.removeprefix("val/") if column.startswith("val/") else ""


def _cv_note(task: str, pooled: dict[str, float] | None) -> str:
    note = "mean ± sample sd over the folds"
    if pooled:
        folds = int(pooled.get("oof/folds", 0))
        note += ("; pooled out-of-fold: the folds' validation predictions scored together"
                 f" ({folds or '?'} fold{'' if folds == 1 else 's'})")
    else:
        from socio_re.config.tasks import TASKS

        if task in TASKS and TASKS[task].pool_folds_hook:
            note += "; no pooled out-of-fold scores (no val_predictions.csv)"
    return note


# --- numbers ---------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _number(v: Any) -> float | None:
    return float(v) if _is_number(v) else None


def format_value(v: Any) -> str:
    """4 decimals (as the compare table prints them); a missing value as ``-``."""
    from socio_re.tracking.compare import fmt_value

    return fmt_value(float(v)) if _is_number(v) else "-"


def _mean_sd(values: Sequence[Any]) -> str:
    """``mean ± sd`` (sample sd, as on the MLflow parent); a single value has no spread."""
    from socio_re.sweeps.parent import mean_std

    numbers = [float(v) for v in values if _is_number(v)]
    if not numbers:
        return "-"
    mean, sd = mean_std(numbers)
    return format_value(mean) + (f" ± {format_value(sd)}" if len(numbers) > 1 else "")


def _fold_key(rec: JobRecord) -> tuple[int, str]:
    fold = job_overrides(rec).get("fold", "")
    return (int(fold), "") if fold.isdigit() else (1 << 30, fold)
