"""The SOCRATES paper's Table 2, for any set of systems scored on the same split and decoding.

Rows: the uniform baseline (one seeded draw per participant: the footing of single-draw
predictions; the exact uniform distribution, the paper's number; and the exact uniform clipped
into each cell's observed range, as model answers are), then every scored system
(base models zero-shot, fine-tuned runs). Columns: W1 with its 95% bootstrap interval over
studies, the relative improvement over the single-draw uniform with its interval, the relative
improvement over the base model (a paired bootstrap over the studies both were scored on),
accuracy, the mean within-study Pearson correlation, the unparseable share and the number of
studies. Definitions: docs/tasks/socrates.md (``socio_re.tasks.socrates.metrics``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from socio_re.metrics.bootstrap import BOOTSTRAP_RESAMPLES, paired_relative_improvement

COLUMNS = ("system", "kind", "wasserstein", "wasserstein_ci_low", "wasserstein_ci_high",
           "rel_vs_uniform", "rel_vs_uniform_ci_low", "rel_vs_uniform_ci_high",
           "rel_vs_base", "rel_vs_base_ci_low", "rel_vs_base_ci_high", "accuracy",
           "within_study_pearson", "unparseable_rate", "n_studies")


@dataclass
class TableEntry:
    """One scored system: its metrics without the split prefix (``wasserstein``,
    ``wasserstein/ci_low``, ...) and its per-study table (``study_id``, ``wasserstein``).
    ``kind`` is ``base`` for a model scored zero-shot (the reference of ``rel_vs_base``) or
    ``model``."""

    label: str
    metrics: dict[str, float]
    per_study: pd.DataFrame
    kind: str = "model"


def unprefixed(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """``{"test/wasserstein": x, ...}`` -> ``{"wasserstein": x, ...}`` for one prefix."""
    head = f"{prefix}/"
    return {k[len(head):]: v for k, v in metrics.items() if k.startswith(head)}


def _study_w1(entry: TableEntry) -> dict[str, float]:
    frame = entry.per_study
    return {str(s): float(w) for s, w in zip(frame["study_id"], frame["wasserstein"],
                                             strict=True)}


def _nan() -> float:
    return float("nan")


def paper_table(entries: list[TableEntry], *, seed: int = 0,
                n_resamples: int = BOOTSTRAP_RESAMPLES) -> pd.DataFrame:
    """The table (columns ``COLUMNS``), uniform rows first, then ``entries`` in order.

    The uniform baseline is scored on the cells a system answered (``n_cells``), and every
    entry is scored on the same rows with the same seed, so the uniform rows come from the
    entry with the most scored cells (the first of those): a system that leaves cells
    unanswered (unparseable output) is compared with the uniform on its own cells in its
    ``rel_vs_uniform`` column."""
    if not entries:
        raise ValueError("paper_table needs at least one scored system")
    first = max(entries, key=lambda e: e.metrics.get("n_cells") or 0).metrics
    rows = [
        {"system": "uniform (one draw per participant)", "kind": "baseline",
         "wasserstein": first.get("uniform_draw_wasserstein", _nan()),
         "wasserstein_ci_low": first.get("uniform_draw_wasserstein/ci_low", _nan()),
         "wasserstein_ci_high": first.get("uniform_draw_wasserstein/ci_high", _nan()),
         "rel_vs_uniform": 0.0, "n_studies": first.get("n_studies")},
        {"system": "uniform (exact distribution; the paper's)", "kind": "baseline",
         "wasserstein": first.get("uniform_wasserstein", _nan()),
         "wasserstein_ci_low": first.get("uniform_wasserstein/ci_low", _nan()),
         "wasserstein_ci_high": first.get("uniform_wasserstein/ci_high", _nan()),
         "n_studies": first.get("n_studies")},
        # Model answers are clipped into each cell's observed range, the paper's uniform is
        # not: this row shows how much of a margin that difference alone could explain.
        {"system": "uniform (exact, clipped into the observed range)", "kind": "baseline",
         "wasserstein": first.get("uniform_clipped_wasserstein", _nan()),
         "wasserstein_ci_low": first.get("uniform_clipped_wasserstein/ci_low", _nan()),
         "wasserstein_ci_high": first.get("uniform_clipped_wasserstein/ci_high", _nan()),
         "n_studies": first.get("n_studies")},
    ]
    base = next((e for e in entries if e.kind == "base"), None)
    for entry in entries:
        m = entry.metrics
        row = {"system": entry.label, "kind": entry.kind,
               "wasserstein": m.get("wasserstein", _nan()),
               "wasserstein_ci_low": m.get("wasserstein/ci_low", _nan()),
               "wasserstein_ci_high": m.get("wasserstein/ci_high", _nan()),
               "rel_vs_uniform": m.get("relative_improvement_vs_uniform", _nan()),
               "rel_vs_uniform_ci_low": m.get("relative_improvement_vs_uniform/ci_low", _nan()),
               "rel_vs_uniform_ci_high": m.get("relative_improvement_vs_uniform/ci_high",
                                               _nan()),
               "accuracy": m.get("accuracy", _nan()),
               "within_study_pearson": m.get("within_study_pearson", _nan()),
               "unparseable_rate": m.get("unparseable_rate", _nan()),
               "n_studies": m.get("n_studies")}
        if base is not None and entry is not base:
            est, low, high, _ = paired_relative_improvement(
                _study_w1(base), _study_w1(entry), seed=seed, n_resamples=n_resamples)
            row.update(rel_vs_base=est, rel_vs_base_ci_low=low, rel_vs_base_ci_high=high)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def caption_of(split: str, split_kind: str, n_rows: int, n_studies: int, decoding: str) -> str:
    """What the table rests on, in one line above it."""
    return (f"{split} split ({split_kind}), {n_rows} rows from {n_studies} studies, {decoding} "
            "decoding; 95% bootstrap intervals over studies")


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _with_ci(row: pd.Series, name: str, signed: bool = False) -> str:
    value = row[name]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    low, high = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return text
    return f"{text} [{low:+.3f}, {high:+.3f}]" if signed else f"{text} [{low:.3f}, {high:.3f}]"


HEADERS = ("system", "W1 ↓ [95% CI]", "vs uniform ↑ [95% CI]", "vs base ↑ [95% CI]",
           "accuracy ↑", "within-study r ↑", "unparseable", "studies")


def display_rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
    """The table as text cells (``HEADERS`` order): the CI columns folded into their value."""
    out = []
    for _, row in table.iterrows():
        rel_uniform = "0 (reference)" if row["kind"] == "baseline" and row["rel_vs_uniform"] == 0 \
            else _with_ci(row, "rel_vs_uniform", signed=True)
        n = row["n_studies"]
        out.append((str(row["system"]), _with_ci(row, "wasserstein"), rel_uniform,
                    _with_ci(row, "rel_vs_base", signed=True), _num(row["accuracy"]),
                    _num(row["within_study_pearson"]), _num(row["unparseable_rate"]),
                    "–" if n is None or (isinstance(n, float) and math.isnan(n)) else str(int(n))))
    return out


def table_markdown(table: pd.DataFrame, caption: str = "") -> str:
    """A Markdown table (GitHub pipes), with an optional caption line above it."""
    lines = [caption, ""] if caption else []
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in display_rows(table)]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, out_dir: Path, caption: str = "",
                stem: str = "paper_table") -> dict[str, Path]:
    """``<stem>.csv`` (every number, CI bounds in their own columns) and ``<stem>.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"paper_table_csv": out_dir / f"{stem}.csv", "paper_table": out_dir / f"{stem}.md"}
    table.to_csv(files["paper_table_csv"], index=False)
    files["paper_table"].write_text(table_markdown(table, caption))
    return files


def print_table(table: pd.DataFrame, title: str) -> None:
    """The table on the console as the Markdown it is written as (a boxed table wraps each
    cell into unreadable slivers on an 80-column terminal or in a log; long lines do not)."""
    import sys

    from rich.console import Console

    Console(file=sys.stdout, soft_wrap=True).print(table_markdown(table, title), markup=False,
                                                   highlight=False)
