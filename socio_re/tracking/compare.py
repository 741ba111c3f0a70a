"""Rank the runs (or sweeps) of an MLflow experiment by a metric: a table, a CSV and plots.

The runs are the ones the rest of the tool writes: params are the flattened resolved config
(dotted keys), final metrics are logged at step 0, every run is tagged with its ``task``, and
sweep jobs are children (``mlflow.parentRunId``, ``sweep_id``) of a parent run tagged
``socio_re.sweep_parent=true``. Everything here reads the store through an ``MlflowClient`` and
never writes to it, so a report can be made while sweeps are still running.
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

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Run

DEFAULT_EXPERIMENTS = ("socrates", "relext")
DEFAULT_METRIC = "objective"
SWEEP_PARENT_TAG = "socio_re.sweep_parent"
PARENT_RUN_TAG = "mlflow.parentRunId"
LR_KEY = "trainer.learning_rate"
BATCH_KEY = "trainer.per_device_train_batch_size"
LOSS_METRIC = "train/loss"

# Params that differ between runs without being a choice worth comparing: where things were
# written, how they were tracked, and the sweep/Hydra bookkeeping.
NOISE_PREFIXES = ("paths.", "tracking.", "hydra.", "sweep.", "tags.")
NOISE_KEYS = frozenset({"run_name", "tags"})
VARIES = "(varies)"  # a sweep's value for a param its jobs do not share

# Substrings of metric names that shrink as a model improves (distances, losses, errors, the
# share of answers that could not be parsed).
LOWER_IS_BETTER_WORDS = ("wasserstein", "loss", "mae", "unparseable")
# Tasks whose ``objective`` is minimised: socrates optimises the test Wasserstein distance;
# relext's objective is validation micro-F1 (maximised).
LOWER_OBJECTIVE_TASKS = frozenset({"socrates"})


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
        return task in LOWER_OBJECTIVE_TASKS
    return any(word in name for word in LOWER_IS_BETTER_WORDS)


def is_noise_param(key: str) -> bool:
    """Params left out of the comparison: output locations and tracking/sweep bookkeeping."""
    return key in NOISE_KEYS or key.startswith(NOISE_PREFIXES) or key.endswith("dir")


def differing_params(params: Sequence[dict[str, str]]) -> list[str]:
    """Keys (sorted) whose values are not all equal across ``params``; a key missing from some
    runs counts as differing. Noise keys are left out."""
    keys = sorted({k for p in params for k in p if not is_noise_param(k)})
    return [k for k in keys if len({p.get(k) for p in params}) > 1]


# --- reading the store --------------------------------------------------------------------------


def open_client(uri: str) -> MlflowClient:
    """A client for an existing store. Opening a missing sqlite file or directory would quietly
    create an empty store (and report "no experiments"), so a typo fails here instead."""
    import mlflow
    from mlflow.exceptions import MlflowException

    fix = ("pass --tracking-uri (e.g. sqlite:///path/to/mlflow.db) or set MLFLOW_TRACKING_URI; "
           "the default is mlflow.db in the working directory")
    _check_local_store(uri, fix)
    try:
        client = mlflow.MlflowClient(uri)
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
    wanted = list(names) if names else list(DEFAULT_EXPERIMENTS)
    found = {n: client.get_experiment_by_name(n) for n in wanted}
    active = {n: e for n, e in found.items() if e is not None and e.lifecycle_stage == "active"}
    known = sorted(e.name for e in client.search_experiments())
    known_text = ", ".join(known) if known else "none"
    missing = [n for n in wanted if n not in active]
    if names and missing:
        raise UserError(f"no MLflow experiment named {missing[0]!r} at {client.tracking_uri}; "
                        f"known: {known_text}; pass --experiment NAME")
    if not active:
        raise UserError(f"none of the default experiments ({', '.join(DEFAULT_EXPERIMENTS)}) "
                        f"exists at {client.tracking_uri}; known: {known_text}; "
                        "pass --experiment NAME or --tracking-uri")
    return list(active.values())


def search_runs(client: MlflowClient, experiment_id: str, filter_string: str = "") -> list[Run]:
    """Every active run of the experiment matching the filter, oldest first (all pages)."""
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

    metrics: list[str] = field(default_factory=lambda: [DEFAULT_METRIC])
    by: str = "runs"  # runs | sweeps
    sweep: str | None = None
    lower: bool | None = None  # None: infer from the first metric's name (and task)
    filter_string: str = ""


@dataclass
class Report:
    """One experiment's comparison. ``frame`` is the ranked table (the CSV); ``leaves`` are the
    runs the plots draw (the listed runs, or the jobs of the listed sweeps), ranked too."""

    experiment: str
    by: str
    metrics: list[str]
    lower: bool
    frame: pd.DataFrame
    varying: list[str]
    leaves: pd.DataFrame
    leaf_varying: list[str]

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
            len({t in LOWER_OBJECTIVE_TASKS for t in tasks}) > 1:
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
    return report


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


def _runs_report(leaves: list[Run], opts: Options, experiment: str, where: str) -> Report:
    if not leaves:
        raise UserError(f"no runs in {where}; train with tracking=mlflow, or check "
                        "--experiment/--sweep/--filter")
    _check_metrics_exist(leaves, opts.metrics, experiment)
    lower = _direction(opts.metrics[0], _tasks(leaves), opts.lower)
    frame, varying = runs_frame(leaves, opts.metrics, lower)
    return Report(experiment, "runs", list(opts.metrics), lower, frame, varying, frame, varying)


def _sweeps_report(parents: list[Run], leaves: list[Run], opts: Options, experiment: str,
                   where: str) -> Report:
    jobs = {p.info.run_id: [r for r in leaves if belongs_to(r, p)] for p in parents}
    if opts.filter_string:  # a sweep none of whose jobs match is filtered out
        parents = [p for p in parents if jobs[p.info.run_id]]
    if not parents:
        raise UserError(f"no sweep parent runs in {where}; sweeps come from `train.py -m` "
                        "with tracking=mlflow; use --by runs to rank single runs")
    leaves = [r for p in parents for r in jobs[p.info.run_id]]
    _check_metrics_exist([*parents, *leaves], opts.metrics, experiment,
                         extra=lambda m: any(f"cv/{m}/mean" in p.data.metrics for p in parents))
    lower = _direction(opts.metrics[0], _tasks([*parents, *leaves]), opts.lower)
    frame, varying = sweeps_frame(parents, jobs, opts.metrics, lower)
    leaf_frame, leaf_varying = runs_frame(leaves, opts.metrics, lower)
    return Report(experiment, "sweeps", list(opts.metrics), lower, frame, varying, leaf_frame,
                  leaf_varying)


def runs_frame(runs: Sequence[Run], metrics: Sequence[str],
               lower: bool) -> tuple[pd.DataFrame, list[str]]:
    """One row per run, best first: rank, run, run_id, status, metrics, differing params."""
    import pandas as pd

    varying = differing_params([r.data.params for r in runs])
    rows = [{"run": r.info.run_name or r.info.run_id[:8], "run_id": r.info.run_id,
             "status": r.info.status,
             **{m: r.data.metrics.get(m, math.nan) for m in metrics},
             **{k: r.data.params.get(k, "") for k in varying}} for r in runs]
    order = rank_order([row[metrics[0]] for row in rows], lower)
    frame = pd.DataFrame([rows[i] for i in order],
                         columns=["run", "run_id", "status", *metrics, *varying])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame, varying


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
    from socio_re.sweeps.parent import mean_std

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
                 lower: bool) -> tuple[pd.DataFrame, list[str]]:
    """One row per sweep, best mean first: rank, sweep, run_id, sweep_id, status, jobs, job
    statuses, ``<metric> mean|std`` per metric, the fixed params that differ, overrides."""
    import pandas as pd

    fixed = [sweep_params(jobs[p.info.run_id]) or dict(p.data.params) for p in parents]
    varying = differing_params(fixed)
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
    return frame, varying


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


# --- the printed table --------------------------------------------------------------------------


def fmt_value(v: Any) -> str:
    """Metrics with 4 decimals (tiny or huge ones in scientific notation); missing as ``-``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def table_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the printed table (the CSV has the same rows, unformatted)."""
    f = report.frame
    if report.by == "runs":
        headers = ["rank", "run", "status", *report.metrics, *report.varying]
        rows = [[str(r["rank"]), str(r["run"]), str(r["status"]),
                 *(fmt_value(r[m]) for m in report.metrics),
                 *(str(r[k]) for k in report.varying)] for _, r in f.iterrows()]
        return headers, rows
    headers = ["rank", "sweep", "status", "jobs", *report.metrics, *report.varying, "overrides"]
    rows = [[str(r["rank"]), str(r["sweep"]), str(r["status"]),
             f"{r['jobs']} ({r['job_statuses']})" if r["jobs"] else "0",
             *(_mean_std(r[f"{m} mean"], r[f"{m} std"]) for m in report.metrics),
             *(str(r[k]) for k in report.varying), str(r["overrides"])]
            for _, r in f.iterrows()]
    return headers, rows


def _mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return fmt_value(mean) + ("" if math.isnan(std) else f" ± {fmt_value(std)}")


def best_line(report: Report) -> str:
    """``best: <name> <metric>=<value> (<differing params>)``."""
    f, m = report.frame, report.metric
    column = m if report.by == "runs" else f"{m} mean"
    if f.empty or math.isnan(f[column].iloc[0]):
        return f"best: none (no {'run' if report.by == 'runs' else 'sweep'} has {m})"
    top = f.iloc[0]
    name = top["run"] if report.by == "runs" else top["sweep"]
    value = fmt_value(top[column]) if report.by == "runs" else _mean_std(top[column],
                                                                        top[f"{m} std"])
    params = ", ".join(f"{k}={top[k]}" for k in report.varying)
    return f"best: {name} {m}={value}" + (f" ({params})" if params else "")


# --- plots --------------------------------------------------------------------------------------


def _figure(width: float = 7.0, height: float = 4.5) -> tuple[Any, Axes]:
    """A figure drawn by Agg without pyplot: no GUI backend, no global figure state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _metric_label(report: Report) -> str:
    return f"{report.metric} ({'lower' if report.lower else 'higher'} is better)"


def _fmt_number(x: float) -> str:
    return f"{x:g}"


def plot_metric_vs(report: Report, x: str, series: str, x_label: str, series_label: str,
                   path: Path, log_base: float) -> str | None:
    """The first metric against ``x`` (points per run, a line through the means), one series
    per value of ``series`` when it varies. Drawn only when ``x`` takes two values or more (a
    single value shows no trend); returns why it was skipped, or None once written."""
    import numpy as np

    data = report.leaves[[x, series, report.metric]].dropna(subset=[x, report.metric])
    data = data[data[x] > 0]
    if data[x].nunique() < 2:
        return f"fewer than two values of {x_label} with {report.metric}"
    fig, ax = _figure()
    groups = [(None, data)] if data[series].nunique(dropna=False) < 2 else \
        list(data.groupby(series, dropna=False, sort=True))
    for value, group in groups:
        label = None if value is None else (
            f"{series_label} {_fmt_number(value)}" if not np.isnan(value) else f"no {series_label}")
        means = group.groupby(x)[report.metric].mean()
        line = ax.plot(means.index, means.values, marker="o", label=label)[0]
        ax.scatter(group[x], group[report.metric], color=line.get_color(), alpha=0.4, s=18)
    ax.set_xscale("log", base=log_base)
    ticks = sorted(data[x].unique())
    ax.set_xticks(ticks, [_fmt_number(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(x_label)
    ax.set_ylabel(_metric_label(report))
    ax.set_title(f"{report.experiment}: {report.metric} vs {x_label} (line: mean over runs)")
    ax.grid(alpha=0.3)
    if len(groups) > 1:
        ax.legend()
    fig.savefig(path, dpi=120)
    return None


def fold_groups(leaves: pd.DataFrame, metric: str, varying: Sequence[str],
                lower: bool) -> dict[str, list[float]]:
    """The metric of each fold, grouped by sweep (parent run) or, for runs outside sweeps, by
    their combination of differing params other than the fold; best mean first."""
    import pandas as pd

    data = leaves[leaves["_fold"].notna()].dropna(subset=[metric])
    keys = [k for k in varying if k != "fold"]
    groups: dict[str, list[float]] = {}
    for _, row in data.iterrows():
        if pd.notna(row["_parent"]):  # pandas may hold a missing parent as None or NaN
            label = str(row["_parent"])
        else:
            label = ", ".join(f"{k}={row[k]}" for k in keys) or "runs"
        groups.setdefault(label, []).append(float(row[metric]))
    means = {k: sum(v) / len(v) for k, v in groups.items()}
    return {k: groups[k] for k in sorted(groups, key=lambda k: means[k] * (1 if lower else -1))}


def plot_fold_spread(report: Report, path: Path) -> str | None:
    """A box per group with its folds as points: how much the metric moves between folds."""
    import numpy as np

    groups = fold_groups(report.leaves, report.metric, report.leaf_varying, report.lower)
    if not groups:
        return f"no run with a fold tag has {report.metric}"
    fig, ax = _figure(max(5.0, 1.2 * len(groups) + 2), 4.5)
    positions = list(range(1, len(groups) + 1))
    ax.boxplot(list(groups.values()), positions=positions, widths=0.5, showfliers=False)
    for pos, values in zip(positions, groups.values(), strict=True):
        # Spread the points sideways (deterministically) so equal values stay visible.
        offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.scatter([pos + o for o in offsets], values, s=22, alpha=0.7, zorder=3)
    ax.set_xticks(positions, list(groups), rotation=20, ha="right")
    ax.set_ylabel(_metric_label(report))
    ax.set_title(f"{report.experiment}: {report.metric} per fold")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=120)
    return None


def plot_loss_curves(client: MlflowClient, report: Report, k: int, path: Path) -> str | None:
    """``train/loss`` against step for the ``k`` best runs that logged it."""
    if k <= 0:
        return "--loss-curves 0"
    fig, ax = _figure()
    drawn = 0
    for _, row in report.leaves.iterrows():
        if drawn == k:
            break
        history = sorted(client.get_metric_history(row["run_id"], LOSS_METRIC),
                         key=lambda m: (m.step, m.timestamp))
        if not history:
            continue
        ax.plot([m.step for m in history], [m.value for m in history],
                label=f"#{row['rank']} {row['run']}")
        drawn += 1
    if not drawn:
        return f"no listed run logged {LOSS_METRIC}"
    ax.set_xlabel("step")
    ax.set_ylabel(LOSS_METRIC)
    ax.set_title(f"{report.experiment}: {LOSS_METRIC} of the {drawn} best runs by {report.metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
    return None


def write_outputs(client: MlflowClient, report: Report, out: Path,
                  loss_curves: int) -> tuple[list[Path], dict[str, str]]:
    """``compare.csv`` and the plots into ``out``; returns the files written and, per skipped
    plot, why."""
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "compare.csv"
    report.frame.to_csv(csv, index=False)
    plots: dict[str, Callable[[Path], str | None]] = {
        "metric_vs_learning_rate.png": lambda p: plot_metric_vs(
            report, "_lr", "_batch", "learning rate", "batch size", p, 10),
        "metric_vs_batch_size.png": lambda p: plot_metric_vs(
            report, "_batch", "_lr", "batch size", "lr", p, 2),
        "fold_spread.png": lambda p: plot_fold_spread(report, p),
        "loss_curves.png": lambda p: plot_loss_curves(client, report, loss_curves, p),
    }
    written, skipped = [csv], {}
    for name, draw in plots.items():
        path = out / name
        path.unlink(missing_ok=True)  # a stale plot from an earlier report would mislead
        reason = draw(path)
        if reason is None:
            written.append(path)
        else:
            skipped[name] = reason
    return written, skipped
