"""SocSci210 metrics: distributional alignment (1-Wasserstein) and individual accuracy.

Definitions follow the Socrates paper (written out in the README, "The socrates task"):

- a *cell* is one (study_id, condition_num, task_num);
- within a cell, human responses and predictions are rescaled to [0, 1] by the cell's observed
  human min and max, predictions clipped into that range first;
- W1 is the 1-Wasserstein distance between the cell's two empirical distributions (all human
  responses of the cell against the parsed predictions of the cell), averaged over the cells of
  a study, then over studies;
- the uniform-guess baseline scores a uniform random answer over the answer options on the same
  cells, the same way;
- individual accuracy is 1 - |clip(y_hat) - y| / (max - min), averaged over rows.

W1 is computed for all cells at once as the integral of |F - G| (exactly what
``scipy.stats.wasserstein_distance`` computes), with one sort over (cell, value).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from socio_re.errors import DataError

CELL_KEYS = ("study_id", "condition_num", "task_num")
REQUIRED_COLUMNS = (*CELL_KEYS, "response", "prediction")
STUDY_COLUMNS = (
    "study_id",
    "n_rows",
    "n_cells",
    "wasserstein",
    "uniform_wasserstein",
    "accuracy",
    "mae",
    "unparseable_rate",
)
# More answer options than this are replaced by this many evenly spaced points.
MAX_UNIFORM_OPTIONS = 1001


def grouped_wasserstein(
    groups_a: np.ndarray,
    values_a: np.ndarray,
    weights_a: np.ndarray,
    groups_b: np.ndarray,
    values_b: np.ndarray,
    weights_b: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """1-Wasserstein distance between two weighted samples, for every group at once.

    ``groups_*`` are integer group ids in ``[0, n_groups)``; weights are relative within a group
    (integer counts keep the cumulative sums exact). Returns an array of length ``n_groups``,
    NaN where either sample of a group is empty. Equals ``scipy.stats.wasserstein_distance``
    group by group.
    """
    groups_a = np.asarray(groups_a, dtype=np.int64)
    groups_b = np.asarray(groups_b, dtype=np.int64)
    values_a = np.asarray(values_a, dtype=np.float64)
    values_b = np.asarray(values_b, dtype=np.float64)
    weights_a = np.asarray(weights_a, dtype=np.float64)
    weights_b = np.asarray(weights_b, dtype=np.float64)
    total_a = np.bincount(groups_a, weights=weights_a, minlength=n_groups)
    total_b = np.bincount(groups_b, weights=weights_b, minlength=n_groups)
    out = np.full(n_groups, np.nan)
    if groups_a.size == 0 or groups_b.size == 0:
        return out

    groups = np.concatenate([groups_a, groups_b])
    values = np.concatenate([values_a, values_b])
    mass_a = np.concatenate([weights_a, np.zeros_like(weights_b)])
    mass_b = np.concatenate([np.zeros_like(weights_a), weights_b])
    order = np.lexsort((values, groups))
    groups, values, mass_a, mass_b = groups[order], values[order], mass_a[order], mass_b[order]

    # Cumulative mass within each group: global cumsum minus the cumsum before the group starts.
    cum_a, cum_b = np.cumsum(mass_a), np.cumsum(mass_b)
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    segment = np.repeat(np.arange(first.size), np.diff(np.r_[first, groups.size]))
    before_a = (cum_a - mass_a)[first][segment]
    before_b = (cum_b - mass_b)[first][segment]
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf_a = (cum_a - before_a) / total_a[groups]
        cdf_b = (cum_b - before_b) / total_b[groups]

    same = groups[1:] == groups[:-1]
    width = values[1:] - values[:-1]
    area = np.abs(cdf_a[:-1] - cdf_b[:-1]) * width
    summed = np.bincount(groups[:-1][same], weights=area[same], minlength=n_groups)
    valid = (total_a > 0) & (total_b > 0)
    out[valid] = summed[valid]
    return out


def _safe_corr(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """Pearson or Spearman correlation; NaN for fewer than 2 points or a constant input."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            r = stats.pearsonr(x, y)[0] if method == "pearson" else stats.spearmanr(x, y)[0]
    return float(r)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def _group_mean(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` per group id; NaN for groups without values."""
    total = np.bincount(groups, weights=values, minlength=n_groups)
    count = np.bincount(groups, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _uniform_options(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Answer options of a uniform guess for each range: (range index, option value).

    Integers in [low, high]; more than ``MAX_UNIFORM_OPTIONS`` of them (or no integer inside a
    non-integral range) become ``MAX_UNIFORM_OPTIONS`` evenly spaced points over the range.
    """
    int_low, int_high = np.ceil(low), np.floor(high)
    n_int = int_high - int_low + 1
    grid = (n_int >= 1) & (n_int <= MAX_UNIFORM_OPTIONS)
    start = np.where(grid, int_low, low)
    stop = np.where(grid, int_high, high)
    count = np.where(grid, n_int, np.where(high > low, MAX_UNIFORM_OPTIONS, 1)).astype(np.int64)
    owner = np.repeat(np.arange(low.size), count)
    k = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    # For an integer grid the step is exactly 1.0, so the options are exact integers.
    step = np.where(count > 1, (stop - start) / np.maximum(count - 1, 1), 0.0)
    return owner, start[owner] + k * step[owner]


def compute_socrates_metrics(
    df: pd.DataFrame,
    prediction_atoms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score predictions against human responses on SocSci210.

    ``prediction_atoms`` = (row position, value, probability) replaces each row's single
    prediction by a whole predicted distribution in the W1 (each row's probabilities sum to 1,
    so every participant weighs the same): the cell's predicted distribution is then the
    mixture of its participants' distributions, the limit of infinitely many draws. The
    individual-level metrics still use ``prediction``.

    ``df`` holds one row per (participant, question) with columns ``study_id``,
    ``condition_num``, ``task_num``, ``response`` (the human answer), ``prediction`` (the parsed
    model answer, NaN where unparseable) and optionally ``scale_min``/``scale_max`` (the answer
    range stated by the stimulus, NaN where absent).

    Returns ``(metrics, per_study)``. ``metrics`` is a flat dict of python floats (counts as
    ints):

    - ``wasserstein``: mean over studies of the mean over cells of W1 on the [0, 1] scale;
    - ``uniform_wasserstein``: the same for a uniform guess over the answer options (integers in
      the stated scale, else in the observed human range), on the same cells;
    - ``relative_improvement_vs_uniform``: (uniform - model) / uniform, NaN if uniform is 0;
    - ``accuracy``: mean of 1 - |clip(y_hat) - y| / (max - min) over parsed rows of
      non-constant cells; ``mae_normalized`` = mean |clip(y_hat) - y| / (max - min) on the same
      rows; ``mae``: mean |y_hat - y| on the raw scale (no clipping) over all parsed rows;
    - ``pearson``/``spearman``: between raw prediction and response over parsed rows (NaN for
      fewer than 2 rows or a constant input);
    - ``unparseable_rate``, ``n_rows``, ``n_parsed``;
    - ``n_cells`` (cells scored), ``n_studies`` (studies with a scored cell), ``n_cells_total``,
      ``cells_constant_skipped`` (all humans gave the same answer: no range to rescale by) and
      ``cells_without_predictions`` (non-constant cells with no parsed prediction). The three
      add up to ``n_cells_total``.

    ``per_study`` has columns study_id, n_rows, n_cells, wasserstein, uniform_wasserstein,
    accuracy, mae, unparseable_rate, sorted by study_id; a study without scored cells has NaN
    distances.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"metrics input lacks column(s) {missing}; needs {list(REQUIRED_COLUMNS)}")
    if df[list(CELL_KEYS)].isna().to_numpy().any():
        raise DataError(f"metrics input has missing values in the cell keys {list(CELL_KEYS)}")
    response = pd.to_numeric(df["response"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(response).all():
        raise DataError("metrics input has missing or non-numeric human responses")
    prediction = pd.to_numeric(df["prediction"], errors="coerce").to_numpy(dtype=np.float64)
    prediction = np.where(np.isfinite(prediction), prediction, np.nan)
    parsed = ~np.isnan(prediction)

    n_rows = len(df)
    cell = df.groupby(list(CELL_KEYS), sort=True).ngroup().to_numpy(dtype=np.int64)
    study_codes, study_uniques = pd.factorize(df["study_id"], sort=True)
    study = np.asarray(study_codes, dtype=np.int64)
    n_cells_total = int(cell.max()) + 1 if n_rows else 0
    n_study_total = len(study_uniques)

    # Per-cell observed human range and prediction counts.
    cell_low = np.full(n_cells_total, np.inf)
    cell_high = np.full(n_cells_total, -np.inf)
    np.minimum.at(cell_low, cell, response)
    np.maximum.at(cell_high, cell, response)
    cell_study = np.zeros(n_cells_total, dtype=np.int64)
    cell_study[cell] = study
    n_pred = np.bincount(cell[parsed], minlength=n_cells_total)
    constant = cell_high == cell_low
    scored = ~constant & (n_pred > 0)

    # Row-level rescaling to [0, 1] (only meaningful in non-constant cells).
    low, high = cell_low[cell], cell_high[cell]
    span = np.where(constant[cell], 1.0, high - low)
    norm_response = (response - low) / span
    norm_prediction = (np.clip(prediction, low, high) - low) / span

    # Model W1 per cell: all human responses vs the predictions (or atoms) of the scored cells.
    row_scored = scored[cell]
    if prediction_atoms is None:
        atom_row = np.flatnonzero(parsed)
        atom_value, atom_mass = prediction[atom_row], np.ones(atom_row.size)
    else:
        atom_row, atom_value, atom_mass = (np.asarray(a) for a in prediction_atoms)
        atom_row = atom_row.astype(np.int64)
    keep = row_scored[atom_row]
    atom_cell = cell[atom_row[keep]]
    a_low, a_high = cell_low[atom_cell], cell_high[atom_cell]
    w_model = grouped_wasserstein(
        cell[row_scored],
        norm_response[row_scored],
        np.ones(int(row_scored.sum())),
        atom_cell,
        (np.clip(atom_value[keep].astype(np.float64), a_low, a_high) - a_low) / (a_high - a_low),
        atom_mass[keep].astype(np.float64),
        n_cells_total,
    )

    # Uniform guess per cell: the stated scale where parsed, else the observed human range.
    opt_low, opt_high = cell_low.copy(), cell_high.copy()
    if "scale_min" in df.columns and "scale_max" in df.columns:
        s_min = pd.to_numeric(df["scale_min"], errors="coerce").to_numpy(dtype=np.float64)
        s_max = pd.to_numeric(df["scale_max"], errors="coerce").to_numpy(dtype=np.float64)
        has = np.isfinite(s_min) & np.isfinite(s_max)
        rows = np.flatnonzero(has)
        cells_with, first = np.unique(cell[rows], return_index=True)  # first row per cell
        lo_s, hi_s = s_min[rows[first]], s_max[rows[first]]
        opt_low[cells_with] = np.minimum(lo_s, hi_s)
        opt_high[cells_with] = np.maximum(lo_s, hi_s)
    scored_cells = np.flatnonzero(scored)
    owner, option = _uniform_options(opt_low[scored_cells], opt_high[scored_cells])
    option_cell = scored_cells[owner]
    c_low, c_high = cell_low[option_cell], cell_high[option_cell]
    norm_option = (np.clip(option, c_low, c_high) - c_low) / (c_high - c_low)
    w_uniform = grouped_wasserstein(
        cell[row_scored],
        norm_response[row_scored],
        np.ones(int(row_scored.sum())),
        option_cell,
        norm_option,
        np.ones(option_cell.size),
        n_cells_total,
    )

    # Cells -> studies -> mean.
    study_w = _group_mean(cell_study[scored], w_model[scored], n_study_total)
    study_u = _group_mean(cell_study[scored], w_uniform[scored], n_study_total)
    study_n_cells = np.bincount(cell_study[scored], minlength=n_study_total)
    has_cells = study_n_cells > 0
    wasserstein = _mean(study_w[has_cells])
    uniform = _mean(study_u[has_cells])
    if np.isfinite(uniform) and uniform > 0 and np.isfinite(wasserstein):
        rel = (uniform - wasserstein) / uniform
    else:
        rel = float("nan")

    # Individual-level metrics.
    acc_rows = parsed & ~constant[cell]
    abs_norm = np.abs(norm_prediction[acc_rows] - norm_response[acc_rows])
    abs_raw = np.abs(prediction[parsed] - response[parsed])

    metrics: dict[str, float] = {
        "wasserstein": float(wasserstein),
        "uniform_wasserstein": float(uniform),
        "relative_improvement_vs_uniform": float(rel),
        "accuracy": float(1.0 - _mean(abs_norm)),
        "mae": _mean(abs_raw),
        "mae_normalized": _mean(abs_norm),
        "pearson": _safe_corr(prediction[parsed], response[parsed], "pearson"),
        "spearman": _safe_corr(prediction[parsed], response[parsed], "spearman"),
        "unparseable_rate": float(1.0 - parsed.mean()) if n_rows else float("nan"),
        "n_rows": int(n_rows),
        "n_parsed": int(parsed.sum()),
        "n_cells": int(scored.sum()),
        "n_studies": int(has_cells.sum()),
        "n_cells_total": int(n_cells_total),
        "cells_constant_skipped": int(constant.sum()),
        "cells_without_predictions": int((~constant & (n_pred == 0)).sum()),
    }

    per_study = pd.DataFrame(
        {
            "study_id": study_uniques,
            "n_rows": np.bincount(study, minlength=n_study_total).astype(np.int64),
            "n_cells": study_n_cells.astype(np.int64),
            "wasserstein": study_w,
            "uniform_wasserstein": study_u,
            "accuracy": 1.0 - _group_mean(study[acc_rows], abs_norm, n_study_total),
            "mae": _group_mean(study[parsed], abs_raw, n_study_total),
            "unparseable_rate": _group_mean(study, (~parsed).astype(np.float64), n_study_total),
        },
        columns=list(STUDY_COLUMNS),
    )
    per_study = per_study.sort_values("study_id", kind="stable").reset_index(drop=True)
    return metrics, per_study
