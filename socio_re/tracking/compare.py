"""Rank the runs (or sweeps) of an MLflow experiment by a metric: a table, a CSV and plots.

The runs are the ones the rest of the tool writes: params are the flattened resolved config
(dotted keys), final metrics are logged at step 0, every run is tagged with its ``task`` and
its Hydra command-line ``overrides``, and sweep jobs are children (``mlflow.parentRunId``,
``sweep_id``) of a parent run tagged ``socio_re.sweep_parent=true``. Everything here reads the
store through an ``MlflowClient`` and never writes to it, so a report can be made while sweeps
are still running. Which params a table shows: ``compare_columns``; the printed table:
``compare_table``; the plots: ``compare_plots``.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socio_re.errors import UserError
from socio_re.tracking.compare_columns import (
    differing_params,
    is_internal_param,
    is_long_structure,
    is_noise_param,
    param_columns,
    setting,
)

# socio_re.sweeps.report formats its values like the compare table, importing it from here.
from socio_re.tracking.compare_table import fmt_value as fmt_value

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Run

    from socio_re.tracking.compare_provenance import ProvenanceDifference

DEFAULT_METRIC = "objective"
SWEEP_PARENT_TAG = "socio_re.sweep_parent"
PARENT_RUN_TAG = "mlflow.parentRunId"
LR_KEY = "trainer.learning_rate"
BATCH_KEY = "trainer.per_device_train_batch_size"
VARIES = "(varies)"  # a sweep's value for a param its jobs do not share
# Runs that ended without a result: left out of a comparison unless asked for. RUNNING runs
# stay (their status column says so): a sweep in progress is worth watching.
FAILED_STATUSES = frozenset({"FAILED", "KILLED"})

# Shown next to ``objective`` when no --metric is given, in this order, the first few a run
# logged: the task's headline scores on validation and test (``TaskSpec.headline_metrics``).
MAX_HEADLINE_METRICS = 3

# Substrings of metric names that shrink as a model improves (distances, losses, errors, the
# share of answers that could not be parsed).
LOWER_IS_BETTER_WORDS = ("wasserstein", "loss", "mae", "unparseable")


def default_experiments() -> list[str]:
    """Every task's experiment (a run's experiment is its task's name unless renamed)."""
    from socio_re.config.tasks import task_names

    return task_names()


def objective_is_minimised(task: str) -> bool | None:
    """The task's direction for ``objective`` (``TaskSpec.direction``); None: unknown task."""
    from socio_re.config.tasks import TASKS

    return TASKS[task].lower_is_better() if task in TASKS else None


def lower_is_better(metric: str, task: str | None = None) -> bool:
    """Whether a smaller value of ``metric`` ranks first.

    ``objective`` (also inside aggregates such as ``cv/objective/mean``) means what the run's
    task optimises, so it needs the ``task`` tag; any other metric goes by its name.
    """
    name = metric.lower()
    if DEFAULT_METRIC in name.split("/"):
        if task is None:
            raise UserError(f"cannot tell whether a lower {metric!r} is better: the runs have no "
                            "task tag; pass --lower-is-better or --higher-is-better")
        lower = objective_is_minimised(task)
        if lower is None:
            raise UserError(f"cannot tell whether a lower {metric!r} is better: task {task!r} "
                            "is not installed here; pass --lower-is-better or "
                            "--higher-is-better")
        return lower
    return any(word in name for word in LOWER_IS_BETTER_WORDS)


# --- reading the store --------------------------------------------------------------------------


def open_client(uri: str) -> MlflowClient:
    """A client for an existing store. Opening a missing sqlite file or directory would quietly
    create an empty store (and report "no experiments"), so a typo fails here instead."""
    from mlflow.exceptions import MlflowException

    from socio_re.tracking import store

    fix = ("pass --tracking-uri (e.g. sqlite:///path/to/mlflow.db) or set MLFLOW_TRACKING_URI; "
           "the default is mlflow.db in the working directory")
    _check_local_store(uri, fix)
    try:
        client = store.open_client(uri)  # a store left half-migrated is repaired first
        client.search_experiments(max_results=1)
    except MlflowException as exc:
        raise UserError(f"cannot read the MLflow store {uri}: {_first_line(exc)}; {fix}") from exc
    return client


def _check_local_store(uri: str, fix: str) -> None:
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_file():
            raise UserError(f"no MLflow store at {db}; {fix}")
        if not _is_mlflow_sqlite(db):
            raise UserError(f"{db} is not an MLflow store (no experiments table); {fix}")
    elif uri.startswith("file:") or "://" not in uri:
        path = Path(uri.removeprefix("file://").removeprefix("file:"))
        if not path.is_dir():
            raise UserError(f"no MLflow store at {path}; {fix}")


def _is_mlflow_sqlite(db: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            found = con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                "AND name='experiments'").fetchone()
    except sqlite3.Error:
        return False
    return found is not None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def find_experiments(client: MlflowClient, names: Sequence[str] | None) -> list[Experiment]:
    """The named experiments (each must exist), or the default ones that exist."""
    wanted = list(names) if names else default_experiments()
    found = {n: client.get_experiment_by_name(n) for n in wanted}
    active = {n: e for n, e in found.items() if e is not None and e.lifecycle_stage == "active"}
    known = sorted(e.name for e in client.search_experiments())
    known_text = ", ".join(known) if known else "none"
    missing = [n for n in wanted if n not in active]
    if names and missing:
        raise UserError(f"no MLflow experiment named {missing[0]!r} at {client.tracking_uri}; "
                        f"known: {known_text}; pass --experiment NAME")
    if not active:
        raise UserError(f"none of the default experiments ({', '.join(wanted)}) "
                        f"exists at {client.tracking_uri}; known: {known_text}; "
                        "pass --experiment NAME or --tracking-uri")
    return list(active.values())


def search_runs(client: MlflowClient, experiment_id: str, filter_string: str = "") -> list[Run]:
    """Every active run of the experiment matching the filter, oldest first (all pages).

    Pages the given client rather than calling ``mlflow.search_runs``, which pages for you but
    only against the process-wide tracking URI: ``compare --tracking-uri`` (and tests with
    several stores in one process) would have to change global state to use it."""
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    runs: list[Run] = []
    token = None
    while True:
        try:
            page = client.search_runs([experiment_id], filter_string, ViewType.ACTIVE_ONLY,
                                      max_results=1000, order_by=["attributes.start_time ASC"],
                                      page_token=token)
        except MlflowException as exc:
            if filter_string:
                raise UserError(f"--filter {filter_string!r}: {_first_line(exc)} (MLflow search "
                                "syntax, e.g. \"params.fold = '0' and metrics.objective > 0.3\")"
                                ) from exc
            raise UserError(f"cannot search runs at {client.tracking_uri}: "
                            f"{_first_line(exc)}") from exc
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def is_sweep_parent(run: Run) -> bool:
    return run.data.tags.get(SWEEP_PARENT_TAG) == "true"


def belongs_to(run: Run, parent: Run) -> bool:
    """A sweep job of ``parent``: by MLflow's parent link, else by the shared ``sweep_id`` (a
    job whose parent could not be created still carries it)."""
    tags = run.data.tags
    if tags.get(PARENT_RUN_TAG):
        return tags[PARENT_RUN_TAG] == parent.info.run_id
    sweep_id = parent.data.tags.get("sweep_id")
    return sweep_id is not None and tags.get("sweep_id") == sweep_id


def in_sweep(run: Run, sweep: str) -> bool:
    """``sweep`` names the run's sweep: its ``sweep_id`` tag or its parent run's id."""
    tags = run.data.tags
    return sweep in (tags.get("sweep_id"), tags.get(PARENT_RUN_TAG)) or (
        is_sweep_parent(run) and run.info.run_id == sweep)


# --- ranking ------------------------------------------------------------------------------------


@dataclass
class Options:
    """What to compare and how (the CLI's arguments)."""

    metrics: list[str] | None = None  # None: objective and the task's headline metrics
    by: str = "runs"  # runs | sweeps
    sweep: str | None = None
    lower: bool | None = None  # None: infer from the first metric's name (and task)
    filter_string: str = ""
    include_failed: bool = False  # list FAILED and KILLED runs (sweeps) too


@dataclass
class Report:
    """One experiment's comparison. ``frame`` is the ranked table (the CSV) with a column per
    param in ``varying`` (every one that differs); ``shown`` are the ones the default table
    prints (those the user set). ``leaves`` are the runs the plots draw (the listed runs, or
    the jobs of the listed sweeps), ranked too, with ``leaf_shown`` as their ``shown``."""

    experiment: str
    by: str
    metrics: list[str]
    lower: bool
    frame: pd.DataFrame
    varying: list[str]
    shown: list[str]
    leaves: pd.DataFrame
    leaf_shown: list[str]
    objective_is: str | None = None  # the headline metric ``objective`` equals, if any
    left_out: int = 0  # failed or killed runs (sweeps) not listed
    # Where the runs (the leaves) differ in provenance; runs logged without it.
    provenance: list[ProvenanceDifference] = field(default_factory=list)
    without_provenance: int = 0

    @property
    def metric(self) -> str:
        return self.metrics[0]


def rank_order(values: Sequence[float | None], lower: bool) -> list[int]:
    """Indices from best to worst; missing (None/NaN) values last, ties in the given order."""
    def key(i: int) -> tuple[bool, float]:
        v = values[i]
        if v is None or math.isnan(v):
            return True, 0.0
        return False, v if lower else -v

    return sorted(range(len(values)), key=key)


def _direction(metric: str, tasks: set[str], override: bool | None) -> bool:
    if override is not None:
        return override
    if DEFAULT_METRIC in metric.lower().split("/") and \
            len({objective_is_minimised(t) for t in tasks}) > 1:
        raise UserError(f"the runs belong to several tasks ({', '.join(sorted(tasks))}) whose "
                        f"{metric!r} point different ways; compare one task (--experiment) or "
                        "pass --lower-is-better / --higher-is-better")
    return lower_is_better(metric, next(iter(tasks)) if tasks else None)


def _tasks(runs: Sequence[Run]) -> set[str]:
    return {r.data.tags["task"] for r in runs if "task" in r.data.tags}


def _check_metrics_exist(runs: Sequence[Run], metrics: Sequence[str], experiment: str,
                         extra: Callable[[str], bool] = lambda m: False) -> None:
    """A metric no run has is a typo, not a ranking with every run tied last."""
    logged = {k for r in runs for k in r.data.metrics}
    for m in metrics:
        if m not in logged and not extra(m):
            finals = sorted(k for k in logged if not k.startswith(("train/", "eval/")))
            raise UserError(f"no run in experiment {experiment!r} logged metric {m!r}; "
                            f"logged: {', '.join(finals[:20]) or 'none'}; pass --metric NAME")


def _headline_candidates(runs: Sequence[Run]) -> list[str]:
    from socio_re.config.tasks import TASKS

    tasks = sorted(_tasks(runs)) or sorted(TASKS)  # no task tag: any task's
    return list(dict.fromkeys(m for t in tasks if t in TASKS for m in TASKS[t].headline_metrics))


def objective_alias(runs: Sequence[Run]) -> str | None:
    """The headline metric ``objective`` is a copy of (``TaskSpec.objective``, e.g.
    ``val/micro_f1``): equal on every run that logged both."""
    for m in _headline_candidates(runs):
        pairs = [(r.data.metrics[DEFAULT_METRIC], r.data.metrics[m]) for r in runs
                 if DEFAULT_METRIC in r.data.metrics and m in r.data.metrics]
        if pairs and all(a == b for a, b in pairs):
            return m
    return None


def default_metrics(runs: Sequence[Run]) -> list[str]:
    """``objective`` and up to ``MAX_HEADLINE_METRICS`` headline metrics some run logged; not
    the one ``objective`` copies (a second column with the same numbers)."""
    logged = {k for r in runs for k in r.data.metrics}
    alias = objective_alias(runs)
    headline = [m for m in _headline_candidates(runs) if m in logged and m != alias]
    return [DEFAULT_METRIC, *headline[:MAX_HEADLINE_METRICS]]


def drop_failed(runs: Sequence[Run], include_failed: bool) -> tuple[list[Run], int]:
    """The runs to list and how many failed or killed ones were left out."""
    if include_failed:
        return list(runs), 0
    kept = [r for r in runs if r.info.status not in FAILED_STATUSES]
    return kept, len(runs) - len(kept)


def build_report(client: MlflowClient, experiment: Experiment, opts: Options) -> Report:
    """Read the experiment's runs and rank them (``opts.by == "runs"``) or its sweeps."""
    everything = search_runs(client, experiment.experiment_id)
    matched = everything if not opts.filter_string else search_runs(
        client, experiment.experiment_id, opts.filter_string)
    parents, leaves = _select(everything, {r.info.run_id for r in matched}, opts,
                              experiment.name)
    where = f"experiment {experiment.name!r}" + (
        f", sweep {opts.sweep!r}" if opts.sweep else "") + (
        f", filter {opts.filter_string!r}" if opts.filter_string else "")
    if opts.by == "sweeps":
        report = _sweeps_report(parents, leaves, opts, experiment.name, where)
    else:
        report = _runs_report(leaves, opts, experiment.name, where)
    report.leaves = _with_plot_columns(report.leaves, everything)
    _add_provenance(report, everything)
    return report


def _add_provenance(report: Report, everything: Sequence[Run]) -> None:
    """Where the compared runs (the sweeps' jobs with --by sweeps) differ in provenance; in
    the runs CSV, a column per differing field."""
    from socio_re.tracking.compare_provenance import (
        provenance_differences,
        with_provenance_columns,
    )

    by_id = {r.info.run_id: r for r in everything}
    runs = [by_id[i] for i in report.leaves["run_id"]] if len(report.leaves) else []
    report.provenance, report.without_provenance = provenance_differences(runs)
    if report.by == "runs":
        report.frame = with_provenance_columns(report.frame, runs, report.provenance)


def _select(everything: Sequence[Run], matched_ids: set[str], opts: Options,
            experiment: str) -> tuple[list[Run], list[Run]]:
    """The sweep parents and the leaf runs (filter applied to leaves) within ``opts.sweep``."""
    if opts.sweep is not None and not any(in_sweep(r, opts.sweep) for r in everything):
        sweeps = sorted({r.data.tags["sweep_id"] for r in everything if "sweep_id" in r.data.tags})
        raise UserError(f"no sweep {opts.sweep!r} in experiment {experiment!r} (neither a "
                        f"sweep_id tag nor a parent run id); known sweeps: "
                        f"{', '.join(sweeps) or 'none'}")

    def wanted(r: Run) -> bool:
        return opts.sweep is None or in_sweep(r, opts.sweep)

    parents = [r for r in everything if is_sweep_parent(r) and wanted(r)]
    leaves = [r for r in everything if not is_sweep_parent(r) and wanted(r)
              and r.info.run_id in matched_ids]
    return parents, leaves


def _all_failed(what: str, n: int, where: str) -> UserError:
    return UserError(f"all {n} {what} in {where} failed or were killed; pass --include-failed "
                     "to list them")


def _runs_report(leaves: list[Run], opts: Options, experiment: str, where: str) -> Report:
    if not leaves:
        raise UserError(f"no runs in {where}; train with tracking=mlflow, or check "
                        "--experiment/--sweep/--filter")
    listed, left_out = drop_failed(leaves, opts.include_failed)
    if not listed:
        raise _all_failed("runs", left_out, where)
    metrics = opts.metrics or default_metrics(listed)
    _check_metrics_exist(listed, metrics, experiment)
    lower = _direction(metrics[0], _tasks(listed), opts.lower)
    frame, varying, shown = runs_frame(listed, metrics, lower)
    return Report(experiment, "runs", list(metrics), lower, frame, varying, shown, frame, shown,
                  objective_alias(listed), left_out)


def _sweeps_report(parents: list[Run], leaves: list[Run], opts: Options, experiment: str,
                   where: str) -> Report:
    jobs = {p.info.run_id: [r for r in leaves if belongs_to(r, p)] for p in parents}
    if opts.filter_string:  # a sweep none of whose jobs match is filtered out
        parents = [p for p in parents if jobs[p.info.run_id]]
    if not parents:
        raise UserError(f"no sweep parent runs in {where}; sweeps come from `train.py -m` "
                        "with tracking=mlflow; use --by runs to rank single runs")
    listed, left_out = drop_failed(parents, opts.include_failed)
    if not listed:
        raise _all_failed("sweeps", left_out, where)
    # The job counts and aggregates see every job (a sweep's failures are part of its row);
    # the plots draw the jobs a runs report would list.
    all_jobs = [r for p in listed for r in jobs[p.info.run_id]]
    plotted, _ = drop_failed(all_jobs, opts.include_failed)
    metrics = opts.metrics or [DEFAULT_METRIC]  # mean ± std cells: no room for more by default
    _check_metrics_exist([*listed, *all_jobs], metrics, experiment,
                         extra=lambda m: any(f"cv/{m}/mean" in p.data.metrics for p in listed))
    lower = _direction(metrics[0], _tasks([*listed, *all_jobs]), opts.lower)
    frame, varying, shown = sweeps_frame(listed, jobs, metrics, lower)
    leaf_frame, _, leaf_shown = runs_frame(plotted, metrics, lower)
    return Report(experiment, "sweeps", list(metrics), lower, frame, varying, shown, leaf_frame,
                  leaf_shown, objective_alias(all_jobs), left_out)


def runs_frame(runs: Sequence[Run], metrics: Sequence[str],
               lower: bool) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per run, best first: rank, run, run_id, status, metrics, every differing param;
    with the differing params and the ones the default table shows."""
    import pandas as pd

    columns = param_columns(runs)
    rows = [{"run": r.info.run_name or r.info.run_id[:8], "run_id": r.info.run_id,
             "status": r.info.status,
             **{m: r.data.metrics.get(m, math.nan) for m in metrics},
             **{k: setting(r, k) for k in columns.wide}} for r in runs]
    order = rank_order([row[metrics[0]] for row in rows], lower)
    frame = pd.DataFrame([rows[i] for i in order],
                         columns=["run", "run_id", "status", *metrics, *columns.wide])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame, columns.wide, columns.shown


def sweep_params(jobs: Sequence[Run]) -> dict[str, str]:
    """What a sweep fixed: each param's value if all its jobs share it, else ``(varies)``."""
    keys = {k for r in jobs for k in r.data.params if not is_noise_param(k)}
    out = {}
    for k in keys:
        values = {r.data.params.get(k) for r in jobs}
        out[k] = (values.pop() or "") if len(values) == 1 else VARIES
    return out


def aggregate(parent: Run, jobs: Sequence[Run], metric: str) -> tuple[float, float, int]:
    """Mean, sample std and count of ``metric`` over the sweep's finished jobs (the jobs the
    parent's ``cv/<metric>/mean|std`` aggregate counts, with the same formula); without any, the
    parent's own aggregate or the parent's own value (e.g. ``oof/micro_f1``)."""
    from socio_re.metrics.spread import mean_std

    values = [r.data.metrics[metric] for r in jobs if r.info.status == "FINISHED"
              and math.isfinite(r.data.metrics.get(metric, math.nan))]
    if values:
        mean, std = mean_std(values)
        return mean, std, len(values)
    m = parent.data.metrics
    if f"cv/{metric}/mean" in m:
        return m[f"cv/{metric}/mean"], m.get(f"cv/{metric}/std", math.nan), int(
            m.get("cv/n_jobs", 0))
    if metric in m:
        return m[metric], math.nan, 1
    return math.nan, math.nan, 0


def _status_counts(jobs: Sequence[Run]) -> str:
    counts = Counter(r.info.status for r in jobs)
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def sweeps_frame(parents: Sequence[Run], jobs: dict[str, list[Run]], metrics: Sequence[str],
                 lower: bool) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per sweep, best mean first: rank, sweep, run_id, sweep_id, status, jobs, job
    statuses, ``<metric> mean|std`` per metric, the fixed params that differ, overrides; with
    the differing params and the ones the default table shows. What the user set is each
    sweep's overrides column, so the shown params are the readable ones (no engine internals,
    no config blobs)."""
    import pandas as pd

    fixed = [sweep_params(jobs[p.info.run_id]) or dict(p.data.params) for p in parents]
    varying = differing_params(fixed)
    shown = [k for k in varying if not is_internal_param(k)
             and not any(is_long_structure(f.get(k)) for f in fixed)]
    rows = []
    for parent, params in zip(parents, fixed, strict=True):
        children = jobs[parent.info.run_id]
        row: dict[str, Any] = {
            "sweep": parent.info.run_name or parent.info.run_id[:8],
            "run_id": parent.info.run_id, "sweep_id": parent.data.tags.get("sweep_id", ""),
            "status": parent.info.status, "jobs": len(children),
            "job_statuses": _status_counts(children)}
        for m in metrics:
            row[f"{m} mean"], row[f"{m} std"], row[f"{m} n"] = aggregate(parent, children, m)
        row.update({k: params.get(k, "") for k in varying})
        row["overrides"] = parent.data.tags.get("overrides", "")
        rows.append(row)
    order = rank_order([row[f"{metrics[0]} mean"] for row in rows], lower)
    frame = pd.DataFrame([rows[i] for i in order])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame, varying, shown


def _with_plot_columns(frame: pd.DataFrame, everything: Sequence[Run]) -> pd.DataFrame:
    """The ranked runs plus what the plots need: learning rate and batch size as numbers, the
    fold tag and the parent sweep's name."""
    by_id = {r.info.run_id: r for r in everything}
    frame = frame.copy()
    runs = [by_id[i] for i in frame["run_id"]] if len(frame) else []
    frame["_lr"] = [_number(r.data.params.get(LR_KEY)) for r in runs]
    frame["_batch"] = [_number(r.data.params.get(BATCH_KEY)) for r in runs]
    frame["_fold"] = [r.data.tags.get("fold") for r in runs]
    frame["_parent"] = [_parent_label(r, by_id) for r in runs]
    return frame


def _parent_label(run: Run, by_id: dict[str, Run]) -> str | None:
    parent_id = run.data.tags.get(PARENT_RUN_TAG)
    if not parent_id:
        return None
    parent = by_id.get(parent_id)
    if parent is None:
        return run.data.tags.get("sweep_id") or parent_id[:8]
    return parent.info.run_name or parent.data.tags.get("sweep_id") or parent_id[:8]


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:  # "None", "auto", ...
        return math.nan


# --- outputs ------------------------------------------------------------------------------------


def write_outputs(client: MlflowClient, report: Report, out: Path,
                  loss_curves: int) -> tuple[list[Path], dict[str, str]]:
    """``compare.csv`` (every listed row, every differing param) and the plots into ``out``;
    returns the files written and, per skipped plot, why."""
    from socio_re.tracking.compare_plots import (
        fold_spread_figure,
        loss_curves_figure,
        metric_vs_figure,
        save_figure,
    )

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "compare.csv"
    report.frame.to_csv(csv, index=False)
    plots: dict[str, Callable[[], Any]] = {
        "metric_vs_learning_rate.png": lambda: metric_vs_figure(
            report, "_lr", "_batch", "learning rate", "batch size", 10),
        "metric_vs_batch_size.png": lambda: metric_vs_figure(
            report, "_batch", "_lr", "batch size", "lr", 2),
        "fold_spread.png": lambda: fold_spread_figure(report),
        "loss_curves.png": lambda: loss_curves_figure(client, report, loss_curves),
    }
    written, skipped = [csv], {}
    for name, draw in plots.items():
        path = out / name
        path.unlink(missing_ok=True)  # a stale plot from an earlier report would mislead
        figure = draw()
        if isinstance(figure, str):  # why it was not drawn
            skipped[name] = figure
        else:
            save_figure(figure, path)
            written.append(path)
    return written, skipped
