"""Percentile bootstrap over studies: how far a SocSci210 score could move with other studies.

Studies, not rows or cells, are the unit that is resampled: rows and cells of one study share
its participants, its questions and its answer scale, so they are not independent draws, and
the headline scores are means over studies anyway.

The procedure, exactly (the tests repeat it by hand):

1. ``rng = numpy.random.default_rng(seed)``;
2. ``picks = rng.integers(0, n_studies, size=(n_resamples, n_studies))``: resample ``r`` is
   row ``r``, ``n_studies`` studies drawn with replacement;
3. a statistic is recomputed on every resample from the per-study values of the picked
   studies (a mean, or a ratio of two means: :func:`relative_improvement`);
4. the interval is the 2.5th and 97.5th percentile of those resampled statistics (numpy's
   default linear interpolation), resamples where the statistic is undefined (NaN) left out.
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_LEVEL = 0.95


def resample_studies(n_studies: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_studies)`` study positions drawn with replacement, seeded."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_studies, size=(n_resamples, n_studies))


def relative_improvement(baseline: np.ndarray | float, model: np.ndarray | float) -> np.ndarray:
    """``(baseline - model) / baseline`` elementwise; NaN where the baseline is not positive
    (a baseline of 0 leaves nothing to improve on) or either value is NaN."""
    baseline = np.asarray(baseline, dtype=np.float64)
    model = np.asarray(model, dtype=np.float64)
    ok = np.isfinite(baseline) & np.isfinite(model) & (baseline > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, (baseline - model) / np.where(ok, baseline, 1.0), np.nan)


def percentile_interval(samples: np.ndarray,
                        level: float = BOOTSTRAP_LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``samples``; NaNs if none."""
    samples = np.asarray(samples, dtype=np.float64)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_relative_improvement(
    baseline: dict[str, float], model: dict[str, float], *, seed: int,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[float, float, float, int]:
    """``(B - M) / B`` of two systems scored on the same studies, with its interval.

    ``baseline`` and ``model`` map study id -> the study's W1 (NaN where undefined); only the
    studies finite in both count (sorted by id), so both means cover the same studies. The
    resamples are drawn as in :func:`resample_studies` over those studies and both systems
    take the same resample (a paired bootstrap: the study-to-study spread that both share
    cancels). Returns (estimate, ci_low, ci_high, n_studies); NaNs where no study is shared.
    """
    shared = sorted(s for s in set(baseline) & set(model)
                    if np.isfinite(baseline[s]) and np.isfinite(model[s]))
    nan = float("nan")
    if not shared:
        return nan, nan, nan, 0
    b = np.array([baseline[s] for s in shared], dtype=np.float64)
    m = np.array([model[s] for s in shared], dtype=np.float64)
    estimate = float(relative_improvement(b.mean(), m.mean()))
    if n_resamples <= 0:
        return estimate, nan, nan, len(shared)
    picks = resample_studies(len(shared), n_resamples, seed)
    low, high = percentile_interval(relative_improvement(b[picks].mean(axis=1),
                                                         m[picks].mean(axis=1)))
    return estimate, low, high, len(shared)
