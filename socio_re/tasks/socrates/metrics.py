"""SocSci210 metrics: distributional alignment (1-Wasserstein), individual accuracy, and
correlations computed where they mean something.

Terms (each metric below is built from them):

- a *row* is one (participant, question): the human answer ``y`` and the parsed model answer
  ``y_hat`` (NaN where unparseable);
- a *cell* is one (study_id, condition_num, task_num); its *observed range* [lo, hi] is the
  min and max of its human answers. A cell whose humans all gave one answer (lo == hi) has no
  range to rescale by: it is skipped by every metric except ``unparseable_rate``, the
  ``raw_pooled_*`` ones and the counts. A cell is *scored* when it has a range and at least one
  parsed prediction;
- *normalised*: v -> (v - lo) / (hi - lo) with the cell's observed range. Model predictions are
  clipped into [lo, hi] first (so they land in [0, 1]); the uniform baseline is not clipped
  (see ``uniform_wasserstein``);
- *W1 of a cell*: the 1-Wasserstein distance between two empirical distributions on the
  normalised scale, the integral of |F - G| (exactly ``scipy.stats.wasserstein_distance``):
  all human answers of the cell against the predicted values of the cell;
- *study mean*: the mean over a study's scored cells; the *headline* is the mean of the study
  means over the studies with at least one scored cell (every study weighs the same, whatever
  its number of cells or rows). Lower W1 is better;
- the *answer scale* of a cell is the range its prompt states (``scale_min``..``scale_max``,
  from ``socio_re.tasks.socrates.answers.parse_scale``; the cell's first row that states one). Its
  *uniform positions* are the scale's integers (more than ``MAX_UNIFORM_OPTIONS`` of them:
  that many evenly spaced points from min to max). Where no row of the cell states a scale
  (open-ended answers such as dollar amounts, where ``parse_scale`` returns None and the scale
  columns are NaN) the positions are those of the cell's observed human range instead: there
  is no stated scale to be uniform over, and the observed range is the only one the data give.

Metrics (``compute_socrates_metrics``; the evaluation logs them as ``<split>/<name>``):

- ``wasserstein``: headline W1 of the model's predictions: per scored cell, the humans against
  the parsed predictions (one draw per participant under the sampling protocol) or, when
  ``prediction_atoms`` are given, against the mixture of the participants' whole predicted
  distributions;
- ``uniform_wasserstein``: headline W1 of the paper's uniform baseline as an exact
  distribution: equal mass on every uniform position of the answer scale, normalised by the
  cell's observed range and NOT clipped into it (positions outside the observed range stay
  outside [0, 1]; clipping would pile their mass onto the range ends and flatter the
  baseline);
- ``uniform_draw_wasserstein``: the same baseline on the model's footing: one seeded uniform
  draw per participant (every row of the cell), against the humans. A finite sample sits
  further from the humans than the distribution it is drawn from, so a single-draw model is
  compared with this one, not with the exact uniform. Draw: ``u = default_rng(seed).random(
  n_rows)``, one number per input row in input order; a row of a cell with k uniform positions
  (ascending) takes position ``min(floor(u * k), k - 1)``;
- ``uniform_clipped_wasserstein``: the exact uniform with its positions clipped into the
  cell's observed range before normalising (this module's earlier ``uniform_wasserstein``);
- ``relative_improvement_vs_uniform``: (U - W) / U with W = ``wasserstein`` and U the uniform
  on equal footing: ``uniform_draw_wasserstein`` for single-draw predictions,
  ``uniform_wasserstein`` when ``prediction_atoms`` give whole distributions (the evaluation
  logs that one as ``distribution/relative_improvement_vs_uniform``). NaN where U is 0;
- ``<name>/ci_low``, ``<name>/ci_high`` for ``wasserstein``, ``uniform_wasserstein``,
  ``uniform_draw_wasserstein``, ``uniform_clipped_wasserstein`` and
  ``relative_improvement_vs_uniform``: 95% percentile
  bootstrap interval over studies (``socio_re.metrics.bootstrap``: the studies with a scored
  cell in study_id order, resampled with replacement ``n_resamples`` times with
  ``default_rng(seed)``, the same resamples for every metric; the relative improvement is
  recomputed per resample as the ratio of the resampled means);
- ``accuracy``: mean over rows of 1 - |clip(y_hat) - y| / (hi - lo), i.e. 1 minus the
  normalised absolute error, over the parsed rows of cells with a range (higher is better);
- ``mae_normalized``: mean |normalised clip(y_hat) - normalised y| over the same rows
  (= 1 - ``accuracy``; lower is better);
- ``within_study_pearson`` / ``within_study_spearman``: per study, the Pearson / Spearman
  correlation between normalised prediction and normalised answer over the same rows (the
  study's cells pooled on the [0, 1] scale); then the mean over the studies where it is
  defined. A study with fewer than 2 such rows, constant predictions or constant answers has
  none: it is left out and counted in ``correlation_studies_skipped``;
  ``n_correlation_studies`` counts the studies averaged;
- ``raw_pooled_pearson``, ``raw_pooled_spearman``, ``raw_pooled_mae``: correlation and mean
  absolute error between raw (unnormalised, unclipped) predictions and answers over all
  parsed rows of all studies pooled. Kept for comparison with older runs only: pooling mixes
  2-point, 7-point, 0-100 and dollar scales, so the scale itself drives them (a constant
  scale-midpoint guess gets a high pooled Pearson);
- ``unparseable_rate``: share of rows without a parsed prediction; ``n_rows``, ``n_parsed``;
- ``n_cells`` (scored cells), ``n_studies`` (studies with a scored cell), ``n_cells_total``,
  ``cells_constant_skipped`` (humans all gave one answer) and ``cells_without_predictions``
  (cells with a range but no parsed prediction); the last three add up to ``n_cells_total``.

The per-study table has, per study_id: n_rows, n_cells (scored), the study means
``wasserstein``, ``uniform_wasserstein``, ``uniform_draw_wasserstein``,
``uniform_clipped_wasserstein``, the study's ``accuracy`` and ``mae_normalized`` (means over
its rows), its within-study ``pearson`` and ``spearman`` and its ``unparseable_rate``.

W1 is computed for all cells at once as the integral of |F - G|, with one sort over
(cell, value).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from socio_re.errors import DataError
from socio_re.metrics.bootstrap import (
    BOOTSTRAP_RESAMPLES,
    percentile_interval,
    relative_improvement,
    resample_studies,
)

CELL_KEYS = ("study_id", "condition_num", "task_num")
REQUIRED_COLUMNS = (*CELL_KEYS, "response", "prediction")
STUDY_COLUMNS = (
    "study_id",
    "n_rows",
    "n_cells",
    "wasserstein",
    "uniform_wasserstein",
    "uniform_draw_wasserstein",
    "uniform_clipped_wasserstein",
    "accuracy",
    "mae_normalized",
    "pearson",
    "spearman",
    "unparseable_rate",
)
# More answer positions than this are replaced by this many evenly spaced points.
MAX_UNIFORM_OPTIONS = 1001
# Seeds the uniform draws and the bootstrap when the caller passes none.
DEFAULT_SEED = 0
# The metrics that get a bootstrap interval.
CI_METRICS = (
    "wasserstein",
    "uniform_wasserstein",
    "uniform_draw_wasserstein",
    "uniform_clipped_wasserstein",
    "relative_improvement_vs_uniform",
)


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


def _uniform_grid(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
    """The uniform positions of each range as (first, step, count).

    Integers in [low, high]; more than ``MAX_UNIFORM_OPTIONS`` of them (or no integer inside a
    non-integral range) become ``MAX_UNIFORM_OPTIONS`` evenly spaced points over the range.
    """
    int_low, int_high = np.ceil(low), np.floor(high)
    n_int = int_high - int_low + 1
    grid = (n_int >= 1) & (n_int <= MAX_UNIFORM_OPTIONS)
    start = np.where(grid, int_low, low)
    stop = np.where(grid, int_high, high)
    count = np.where(grid, n_int, np.where(high > low, MAX_UNIFORM_OPTIONS, 1)).astype(np.int64)
    # For an integer grid the step is exactly 1.0, so the positions are exact integers.
    step = np.where(count > 1, (stop - start) / np.maximum(count - 1, 1), 0.0)
    return start, step, count


def _uniform_options(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every uniform position of each range: (range index, position value)."""
    start, step, count = _uniform_grid(low, high)
    owner = np.repeat(np.arange(low.size), count)
    k = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return owner, start[owner] + k * step[owner]


def _uniform_draws(cell: np.ndarray, scale_low: np.ndarray, scale_high: np.ndarray,
                   seed: int) -> np.ndarray:
    """One uniform answer per row over its cell's uniform positions: ``u`` from
    ``default_rng(seed).random(n_rows)`` in row order, position ``min(floor(u * k), k - 1)``.
    Every row gets its number, so a row's draw does not depend on which cells are scored."""
    u = np.random.default_rng(seed).random(cell.size)
    start, step, count = _uniform_grid(scale_low, scale_high)
    k = count[cell]
    position = np.minimum(np.floor(u * k), k - 1)
    return start[cell] + position * step[cell]


def _answer_scales(df: pd.DataFrame, cell: np.ndarray, cell_low: np.ndarray,
                   cell_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the answer scale its first scale-stating row gives; the observed human range
    where no row states one (open-ended answers, or no scale columns at all)."""
    scale_low, scale_high = cell_low.copy(), cell_high.copy()
    if "scale_min" not in df.columns or "scale_max" not in df.columns:
        return scale_low, scale_high
    s_min = pd.to_numeric(df["scale_min"], errors="coerce").to_numpy(dtype=np.float64)
    s_max = pd.to_numeric(df["scale_max"], errors="coerce").to_numpy(dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(s_min) & np.isfinite(s_max))
    cells_with, first = np.unique(cell[rows], return_index=True)  # first row per cell
    lo, hi = s_min[rows[first]], s_max[rows[first]]
    scale_low[cells_with] = np.minimum(lo, hi)
    scale_high[cells_with] = np.maximum(lo, hi)
    return scale_low, scale_high


def _within_study_correlations(study: np.ndarray, prediction: np.ndarray, truth: np.ndarray,
                               n_studies: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per study: Pearson, Spearman (NaN where undefined) and the number of rows they use."""
    order = np.argsort(study, kind="stable")
    bounds = np.searchsorted(study[order], np.arange(n_studies + 1))
    pearson, spearman = np.full(n_studies, np.nan), np.full(n_studies, np.nan)
    for s in range(n_studies):
        rows = order[bounds[s]:bounds[s + 1]]
        pearson[s] = _safe_corr(prediction[rows], truth[rows], "pearson")
        spearman[s] = _safe_corr(prediction[rows], truth[rows], "spearman")
    return pearson, spearman, np.diff(bounds)


def _bootstrap_intervals(per_study: dict[str, np.ndarray], baseline: str, n_resamples: int,
                         seed: int) -> dict[str, float]:
    """``<metric>/ci_low`` and ``<metric>/ci_high`` for ``CI_METRICS``: every metric on the same
    resamples of studies, the relative improvement as the ratio of each resample's means."""
    n_studies = per_study["wasserstein"].size
    if n_studies == 0 or n_resamples <= 0:
        nan = float("nan")
        return {f"{name}/ci_{end}": nan for name in CI_METRICS for end in ("low", "high")}
    picks = resample_studies(n_studies, n_resamples, seed)
    means = {name: values[picks].mean(axis=1) for name, values in per_study.items()}
    means["relative_improvement_vs_uniform"] = relative_improvement(
        means[baseline], means["wasserstein"])
    out: dict[str, float] = {}
    for name in CI_METRICS:
        out[f"{name}/ci_low"], out[f"{name}/ci_high"] = percentile_interval(means[name])
    return out


def compute_socrates_metrics(
    df: pd.DataFrame,
    prediction_atoms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score predictions against human responses on SocSci210 (definitions: module docstring).

    ``df`` holds one row per (participant, question) with columns ``study_id``,
    ``condition_num``, ``task_num``, ``response`` (the human answer), ``prediction`` (the parsed
    model answer, NaN where unparseable) and optionally ``scale_min``/``scale_max`` (the answer
    range stated by the prompt, NaN where it states none).

    ``prediction_atoms`` = (row position, value, probability) replaces each row's single
    prediction by a whole predicted distribution in the model's W1 (each row's probabilities
    sum to 1, so every participant weighs the same): the cell's predicted distribution is then
    the mixture of its participants' distributions, the limit of infinitely many draws, and the
    relative improvement is taken against the exact uniform. The individual-level metrics still
    use ``prediction``.

    ``seed`` seeds the uniform baseline's draws and the bootstrap; ``n_resamples`` is the
    number of bootstrap resamples (0: no intervals, NaN).

    Returns ``(metrics, per_study)``: a flat dict of python floats (counts as ints) and the
    per-study table (columns ``STUDY_COLUMNS``, sorted by study_id; a study without scored
    cells has NaN distances).
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

    def normalised(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Values of non-constant cells on their cell's [0, 1] scale (no clipping)."""
        lo = cell_low[cells]
        return (values - lo) / (cell_high[cells] - lo)

    # Row-level rescaling to [0, 1] (only meaningful in non-constant cells).
    low, high = cell_low[cell], cell_high[cell]
    span = np.where(constant[cell], 1.0, high - low)
    norm_response = (response - low) / span
    norm_prediction = (np.clip(prediction, low, high) - low) / span

    # Every W1 below: all human responses of a scored cell against some predicted sample.
    row_scored = scored[cell]
    human_cells = cell[row_scored]

    def cell_w1(cells: np.ndarray, values: np.ndarray, mass: np.ndarray) -> np.ndarray:
        return grouped_wasserstein(human_cells, norm_response[row_scored],
                                   np.ones(human_cells.size), cells, values, mass,
                                   n_cells_total)

    # The model: its parsed predictions, or its atoms, clipped into the observed range.
    if prediction_atoms is None:
        atom_row = np.flatnonzero(parsed)
        atom_value, atom_mass = prediction[atom_row], np.ones(atom_row.size)
    else:
        atom_row, atom_value, atom_mass = (np.asarray(a) for a in prediction_atoms)
        atom_row = atom_row.astype(np.int64)
    keep = row_scored[atom_row]
    atom_cell = cell[atom_row[keep]]
    atom_value = np.clip(atom_value[keep].astype(np.float64), cell_low[atom_cell],
                         cell_high[atom_cell])
    w_model = cell_w1(atom_cell, normalised(atom_value, atom_cell),
                      atom_mass[keep].astype(np.float64))

    # The uniform baseline over each scored cell's answer scale: exact (unclipped, as in the
    # paper, and clipped) and one seeded draw per participant.
    scale_low, scale_high = _answer_scales(df, cell, cell_low, cell_high)
    scored_cells = np.flatnonzero(scored)
    owner, position = _uniform_options(scale_low[scored_cells], scale_high[scored_cells])
    position_cell = scored_cells[owner]
    ones = np.ones(position_cell.size)
    w_uniform = cell_w1(position_cell, normalised(position, position_cell), ones)
    clipped = np.clip(position, cell_low[position_cell], cell_high[position_cell])
    w_uniform_clipped = cell_w1(position_cell, normalised(clipped, position_cell), ones)
    draws = _uniform_draws(cell, scale_low, scale_high, seed)[row_scored]
    w_uniform_draw = cell_w1(human_cells, normalised(draws, human_cells),
                             np.ones(human_cells.size))

    # Cells -> study means -> headline means over the studies with a scored cell.
    def study_means(cell_values: np.ndarray) -> np.ndarray:
        return _group_mean(cell_study[scored], cell_values[scored], n_study_total)

    study_w1 = {
        "wasserstein": study_means(w_model),
        "uniform_wasserstein": study_means(w_uniform),
        "uniform_draw_wasserstein": study_means(w_uniform_draw),
        "uniform_clipped_wasserstein": study_means(w_uniform_clipped),
    }
    study_n_cells = np.bincount(cell_study[scored], minlength=n_study_total)
    has_cells = study_n_cells > 0
    headline = {name: _mean(values[has_cells]) for name, values in study_w1.items()}
    # Equal footing: single draws against single draws, distributions against distributions.
    baseline = "uniform_wasserstein" if prediction_atoms is not None else (
        "uniform_draw_wasserstein")
    rel = float(relative_improvement(headline[baseline], headline["wasserstein"]))
    intervals = _bootstrap_intervals(
        {name: study_w1[name][has_cells] for name in CI_METRICS if name in study_w1},
        baseline, n_resamples, seed)

    # Individual level: parsed rows of cells with a range, on the [0, 1] scale.
    acc_rows = parsed & ~constant[cell]
    abs_norm = np.abs(norm_prediction[acc_rows] - norm_response[acc_rows])
    study_pearson, study_spearman, study_corr_rows = _within_study_correlations(
        study[acc_rows], norm_prediction[acc_rows], norm_response[acc_rows], n_study_total)
    corr_defined = np.isfinite(study_pearson)
    abs_raw = np.abs(prediction[parsed] - response[parsed])

    metrics: dict[str, float] = {
        **{name: float(value) for name, value in headline.items()},
        "relative_improvement_vs_uniform": rel,
        **intervals,
        "accuracy": float(1.0 - _mean(abs_norm)),
        "mae_normalized": _mean(abs_norm),
        "within_study_pearson": _mean(study_pearson[corr_defined]),
        "within_study_spearman": _mean(study_spearman[corr_defined]),
        "n_correlation_studies": int(corr_defined.sum()),
        "correlation_studies_skipped": int(((study_corr_rows > 0) & ~corr_defined).sum()),
        "raw_pooled_pearson": _safe_corr(prediction[parsed], response[parsed], "pearson"),
        "raw_pooled_spearman": _safe_corr(prediction[parsed], response[parsed], "spearman"),
        "raw_pooled_mae": _mean(abs_raw),
        "unparseable_rate": float(1.0 - parsed.mean()) if n_rows else float("nan"),
        "n_rows": int(n_rows),
        "n_parsed": int(parsed.sum()),
        "n_cells": int(scored.sum()),
        "n_studies": int(has_cells.sum()),
        "n_cells_total": int(n_cells_total),
        "cells_constant_skipped": int(constant.sum()),
        "cells_without_predictions": int((~constant & (n_pred == 0)).sum()),
    }

    study_mae = _group_mean(study[acc_rows], abs_norm, n_study_total)
    per_study = pd.DataFrame(
        {
            "study_id": study_uniques,
            "n_rows": np.bincount(study, minlength=n_study_total).astype(np.int64),
            "n_cells": study_n_cells.astype(np.int64),
            **study_w1,
            "accuracy": 1.0 - study_mae,
            "mae_normalized": study_mae,
            "pearson": study_pearson,
            "spearman": study_spearman,
            "unparseable_rate": _group_mean(study, (~parsed).astype(np.float64), n_study_total),
        },
        columns=list(STUDY_COLUMNS),
    )
    per_study = per_study.sort_values("study_id", kind="stable").reset_index(drop=True)
    return metrics, per_study
