"""The printed comparison: table cells, the title's wording and the ``best:`` line.

The default table is meant for a terminal: the metrics, the params the user set that differ,
long values shortened. ``wide`` prints every differing param in full (what ``compare.csv``
always holds).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from socio_re.tracking.compare_columns import (
    CELL_CHARS,
    NAME_CHARS,
    OVERRIDES_CHARS,
    shorten,
    shorten_column,
)

if TYPE_CHECKING:
    from socio_re.tracking.compare import Report

BEST_LINE_CHARS = 40  # a value in the best line may be longer than a cell: it has the room


def fmt_value(v: Any) -> str:
    """Metrics with 4 decimals (tiny or huge ones in scientific notation); missing as ``-``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def param_headers(report: Report, wide: bool) -> list[str]:
    return report.varying if wide else report.shown


def table_rows(report: Report, wide: bool = False) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the printed table (the CSV has the same rows, every column,
    unformatted)."""
    f = report.frame
    params = param_headers(report, wide)

    def column(name: str, width: int = CELL_CHARS) -> list[str]:
        values = [str(v) for v in f[name]]
        return values if wide else shorten_column(values, width)

    if report.by == "runs":
        headers = ["rank", "run", "status", *report.metrics, *params]
        columns = [[str(v) for v in f["rank"]], column("run", NAME_CHARS),
                   [str(v) for v in f["status"]],
                   *([fmt_value(v) for v in f[m]] for m in report.metrics),
                   *(column(k) for k in params)]
    else:
        headers = ["rank", "sweep", "status", "jobs", *report.metrics, *params, "overrides"]
        columns = [[str(v) for v in f["rank"]], column("sweep", NAME_CHARS),
                   [str(v) for v in f["status"]],
                   [f"{n} ({statuses})" if n else "0"
                    for n, statuses in zip(f["jobs"], f["job_statuses"], strict=True)],
                   *([_mean_std(mean, std) for mean, std in
                      zip(f[f"{m} mean"], f[f"{m} std"], strict=True)] for m in report.metrics),
                   *(column(k) for k in params), column("overrides", OVERRIDES_CHARS)]
    return headers, [list(row) for row in zip(*columns, strict=True)]


def _mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return fmt_value(mean) + ("" if math.isnan(std) else f" ± {fmt_value(std)}")


def title(report: Report, shown: int, total: int) -> str:
    """``relext: 6 runs by objective (= val/micro_f1, higher is better, 1 failed or killed left
    out (--include-failed))``: what ``objective`` is, its direction, what is not listed."""
    what = "runs" if report.by == "runs" else "sweeps"
    copies = report.objective_is if report.metric == "objective" else None
    notes = [f"= {copies}"] if copies else []
    notes.append(f"{'lower' if report.lower else 'higher'} is better")
    if shown < total:
        notes.append(f"top {shown} shown")
    if report.left_out:
        notes.append(f"{report.left_out} failed or killed left out (--include-failed)")
    return f"{report.experiment}: {total} {what} by {report.metric} ({', '.join(notes)})"


def best_line(report: Report) -> str:
    """``best: <name> <metric>=<value> (<differing params the user set>)``."""
    f, m = report.frame, report.metric
    column = m if report.by == "runs" else f"{m} mean"
    if f.empty or math.isnan(f[column].iloc[0]):
        return f"best: none (no {'run' if report.by == 'runs' else 'sweep'} has {m})"
    top = f.iloc[0]
    name = top["run"] if report.by == "runs" else top["sweep"]
    value = fmt_value(top[column]) if report.by == "runs" else _mean_std(top[column],
                                                                        top[f"{m} std"])
    params = ", ".join(f"{k}={shorten(str(top[k]), BEST_LINE_CHARS)}" for k in report.shown)
    return f"best: {name} {m}={value}" + (f" ({params})" if params else "")
