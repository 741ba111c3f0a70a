"""The comparison's plots: the first metric against learning rate and batch size, its spread
over folds, and the train loss of the best runs.

Each ``*_figure`` function returns the figure, or why it was not drawn; ``save_figure`` writes
it. Every label is kept inside the image: the figures use constrained layout, long labels are
wrapped and shortened before drawing, and the file is saved with a tight bounding box as a
last resort, so a long sweep name widens the image instead of being cut off.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from socio_re.tracking.compare_columns import shorten, shorten_column

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

    from socio_re.tracking.compare import Report

LOSS_METRIC = "train/loss"
DPI = 120
TITLE_CHARS = 70  # wider titles wrap onto a second line
LABEL_CHARS = 30  # a fold group's label: one item a line, each shortened to this width...
LABEL_LINES = 4  # ...on at most this many lines
# Where a fold group's label breaks into items: before the next ``key=`` of a ``k=v, k=v``
# list (not inside a list value such as ``['q', 'v']``), and at the ``__`` of a sweep name.
_LABEL_ITEM_BREAK = re.compile(r", (?=[\w.@/+-]+=)|__")
LEGEND_INSIDE = 4  # entries a legend may have inside the axes without hiding points
LEGEND_CHARS = 32  # longer legend entries go below the axes (run names are shortened to it)


def _figure(width: float = 7.0, height: float = 4.5) -> tuple[Figure, Axes]:
    """A figure drawn by Agg without pyplot: no GUI backend, no global figure state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: Path) -> None:
    # Constrained layout makes room for the labels; the tight box catches whatever it could not
    # (it gives up on a label wider than the figure), growing the image rather than cutting.
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.15)


def _legend(fig: Figure, ax: Axes) -> None:
    """Inside the axes when small; else beside them (many entries) or below (long ones), where
    constrained layout makes room instead of covering the data."""
    handles, labels = ax.get_legend_handles_labels()
    longest = max(len(label) for label in labels)
    if len(labels) <= LEGEND_INSIDE and longest <= LEGEND_CHARS:
        ax.legend(fontsize="small")
    elif longest <= LEGEND_CHARS:
        # Anchored to the axes' top right corner, not the figure's: there it would sit on the
        # title.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                  fontsize="small")
    else:
        fig.legend(handles, labels, loc="outside lower center", fontsize="small")


def _title(ax: Axes, text: str) -> None:
    ax.set_title("\n".join(textwrap.wrap(text, TITLE_CHARS)))


def _metric_label(report: Report) -> str:
    return f"{report.metric} ({'lower' if report.lower else 'higher'} is better)"


def _fmt_number(x: float) -> str:
    """Batch sizes as integers; small values (learning rates) as ``3e-5``, not ``3e-05`` or
    ``0.0003``: short tick labels stay apart on a crowded log axis."""
    if float(x).is_integer() or abs(x) >= 1e-2:
        return f"{x:g}"
    mantissa, exponent = f"{x:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _keep_tick_labels_apart(fig: Figure, ax: Axes) -> None:
    """Turn the x tick labels (45°, then upright) until neighbours no longer overlap: close
    values on a log axis (``2e-4``, ``3e-4``) sit a few pixels apart."""
    from itertools import pairwise

    for angle, align in ((0, "center"), (45, "right"), (90, "center")):
        ax.tick_params(axis="x", labelrotation=angle)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment(align)
        fig.canvas.draw()  # lays the figure out: label extents are known from here on
        boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
        if not any(a.overlaps(b) for a, b in pairwise(boxes)):
            return


def metric_vs_figure(report: Report, x: str, series: str, x_label: str, series_label: str,
                     log_base: float) -> Figure | str:
    """The first metric against ``x`` (points per run, a line through the means), one series
    per value of ``series`` when it varies. Drawn only when ``x`` takes two values or more (a
    single value shows no trend); else why not."""
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
    ax.margins(x=0.08)  # the outermost tick labels stay within the axes' width
    ax.set_xlabel(x_label)
    ax.set_ylabel(_metric_label(report))
    _title(ax, f"{report.experiment}: {report.metric} vs {x_label} (line: mean over runs)")
    ax.grid(alpha=0.3)
    if len(groups) > 1:
        _legend(fig, ax)
    _keep_tick_labels_apart(fig, ax)
    return fig


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


def wrap_label(label: str) -> str:
    """A group label on at most ``LABEL_LINES`` lines of about ``LABEL_CHARS``: one item per line
    (the ``k=v`` pairs, the ``__``-joined overrides of a sweep name), a long item's value on a
    line of its own; what does not fit is counted, not cut off at the frame."""
    lines: list[str] = []
    for item in _LABEL_ITEM_BREAK.split(label):
        key, eq, value = item.partition("=")
        if len(item) > LABEL_CHARS and eq and len(key) < LABEL_CHARS:
            lines += [key + eq, shorten(value, LABEL_CHARS)]
        else:
            lines.append(shorten(item, LABEL_CHARS))
    if len(lines) > LABEL_LINES:
        lines = [*lines[:LABEL_LINES - 1], f"(+{len(lines) - LABEL_LINES + 1} more lines)"]
    return "\n".join(lines)


def fold_spread_figure(report: Report) -> Figure | str:
    """A box per group with its folds as points: how much the metric moves between folds. The
    boxes lie horizontally, best on top, so each group's label reads on one line per item and
    any number of groups fits by growing the image downwards."""
    import numpy as np

    groups = fold_groups(report.leaves, report.metric, report.leaf_shown, report.lower)
    if not groups:
        return f"no run with a fold tag has {report.metric}"
    labels = [wrap_label(label) for label in groups]
    lines = max(label.count("\n") + 1 for label in labels)
    fig, ax = _figure(7.5, max(3.5, 1.8 + len(groups) * (0.3 + 0.2 * lines)))
    positions = list(range(len(groups), 0, -1))  # the best group on top
    ax.boxplot(list(groups.values()), positions=positions, widths=0.5, showfliers=False,
               orientation="horizontal")
    for pos, values in zip(positions, groups.values(), strict=True):
        # Spread the points (deterministically) across the box so equal values stay visible.
        offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(values, [pos + o for o in offsets], s=22, alpha=0.7, zorder=3)
    ax.set_yticks(positions, labels, fontsize="small")
    ax.set_xlabel(_metric_label(report))
    ax.set_ylabel("sweep, or the settings of runs outside sweeps")
    _title(ax, f"{report.experiment}: {report.metric} per fold (one point per fold)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def loss_curves_figure(client: MlflowClient, report: Report, k: int) -> Figure | str:
    """``train/loss`` against step for the ``k`` best runs that logged it (or why none)."""
    if k <= 0:
        return "--loss-curves 0"
    fig, ax = _figure()
    curves = []
    for _, row in report.leaves.iterrows():
        if len(curves) == k:
            break
        history = sorted(client.get_metric_history(row["run_id"], LOSS_METRIC),
                         key=lambda m: (m.step, m.timestamp))
        if history:
            curves.append((row, history))
    drawn = len(curves)
    # Shortened only as far as the names stay apart (runs named alike but for the middle).
    names = shorten_column([str(row["run"]) for row, _ in curves], LEGEND_CHARS)
    for (row, history), name in zip(curves, names, strict=True):
        ax.plot([m.step for m in history], [m.value for m in history],
                label=f"#{row['rank']} {name}")
    if not drawn:
        return f"no listed run logged {LOSS_METRIC}"
    ax.set_xlabel("step")
    ax.set_ylabel(LOSS_METRIC)
    _title(ax, f"{report.experiment}: {LOSS_METRIC} of the {drawn} best runs by {report.metric}")
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    return fig
