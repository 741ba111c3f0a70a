"""SocSci210 metrics and answer parsing, checked against values computed by hand."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from socio_re.errors import DataError
from socio_re.metrics.bootstrap import percentile_interval, relative_improvement
from socio_re.tasks.socrates.answers import parse_answer, parse_scale
from socio_re.tasks.socrates.metrics import (
    CI_METRICS,
    STUDY_COLUMNS,
    compute_socrates_metrics,
    grouped_wasserstein,
)

NAN = float("nan")


def frame(cells, scales=None):
    """Rows from {(study, condition, task): (humans, predictions)}; optional per-cell scales."""
    rows = []
    for (study, cond, task), (humans, preds) in cells.items():
        for y, p in zip(humans, preds, strict=True):
            row = {
                "study_id": study,
                "condition_num": cond,
                "task_num": task,
                "response": y,
                "prediction": p,
            }
            if scales is not None:
                lo, hi = scales.get((study, cond, task), (NAN, NAN))
                row["scale_min"], row["scale_max"] = lo, hi
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Wasserstein


def test_w1_hand_case_single_cell():
    # humans [1,2,3,5], observed range 1..5 -> [0, .25, .5, 1]; predictions [1,1,5,5] -> [0,0,1,1]
    # equal-size sorted samples: W1 = mean |a_i - b_i| = (0 + .25 + .5 + 0) / 4 = 0.1875
    df = frame({("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, 5])})
    m, per_study = compute_socrates_metrics(df)
    assert m["wasserstein"] == pytest.approx(0.1875, abs=1e-9)
    assert m["n_cells"] == 1 and m["n_studies"] == 1
    assert per_study["wasserstein"].iloc[0] == pytest.approx(0.1875, abs=1e-9)


def test_w1_averages_cells_within_study_then_studies():
    # study A, cell 1: 0.1875 (hand case above)
    # study A, cell 2: humans [0,10] -> [0,1], predictions [0,10] -> [0,1]: W1 = 0
    # study B, cell 3: humans [0,1] -> [0,1], predictions [1,1] -> [1,1]: W1 = (1 + 0) / 2 = 0.5
    # study means: A = (0.1875 + 0) / 2 = 0.09375, B = 0.5; overall = (0.09375 + 0.5) / 2
    # = 0.296875, not the plain mean of cells (0.1875 + 0 + 0.5) / 3 = 0.2291666...
    df = frame(
        {
            ("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, 5]),
            ("AAAAA", 1, 0): ([0, 10], [0, 10]),
            ("BBBBB", 0, 0): ([0, 1], [1, 1]),
        }
    )
    m, per_study = compute_socrates_metrics(df)
    assert m["wasserstein"] == pytest.approx(0.296875, abs=1e-9)
    assert m["wasserstein"] != pytest.approx((0.1875 + 0 + 0.5) / 3, abs=1e-6)
    assert m["n_cells"] == 3 and m["n_studies"] == 2
    assert list(per_study.columns) == list(STUDY_COLUMNS)
    assert list(per_study["study_id"]) == ["AAAAA", "BBBBB"]
    assert list(per_study["n_cells"]) == [2, 1]
    assert list(per_study["n_rows"]) == [6, 2]
    assert per_study["wasserstein"].tolist() == pytest.approx([0.09375, 0.5], abs=1e-9)


def test_per_study_sorted_by_study_id():
    df = frame({("ZZZZZ", 0, 0): ([1, 2], [1, 2]), ("AAAAA", 0, 0): ([1, 2], [2, 2])})
    _, per_study = compute_socrates_metrics(df)
    assert list(per_study["study_id"]) == ["AAAAA", "ZZZZZ"]
    # AAAAA: humans [0,1], predictions [1,1] -> 0.5; ZZZZZ: identical -> 0
    assert per_study["wasserstein"].tolist() == pytest.approx([0.5, 0.0], abs=1e-9)


def test_clipping_prediction_outside_observed_range():
    # humans [1,5] -> [0,1]; predictions [9,5]: 9 clips to 5 -> [1,1]: W1 = (1 + 0) / 2 = 0.5
    # (without clipping 9 -> (9-1)/4 = 2 and W1 would be (1 + 1) / 2 = 1)
    # accuracy rows: y=1, clip(9)=5 -> 1 - 4/4 = 0; y=5, 5 -> 1; mean 0.5 (unclipped: 0)
    # raw MAE keeps the raw prediction: (|9-1| + 0) / 2 = 4; normalised: (1 + 0) / 2 = 0.5
    df = frame({("AAAAA", 0, 0): ([1, 5], [9, 5])})
    m, _ = compute_socrates_metrics(df)
    assert m["wasserstein"] == pytest.approx(0.5, abs=1e-9)
    assert m["accuracy"] == pytest.approx(0.5, abs=1e-9)
    assert m["raw_pooled_mae"] == pytest.approx(4.0, abs=1e-9)
    assert m["mae_normalized"] == pytest.approx(0.5, abs=1e-9)


def test_w1_unequal_sizes_and_nan_prediction_excluded():
    # humans [1,2,3,5] -> [0,.25,.5,1]; predictions [1,1,5,NaN] -> [0,0,1] (NaN dropped)
    # F_h: .25 on [0,.25), .5 on [.25,.5), .75 on [.5,1); F_p: 2/3 on [0,1)
    # integral |F_h - F_p| = (5/12)(1/4) + (1/6)(1/4) + (1/12)(1/2) = 9/48 = 0.1875
    df = frame({("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, NAN])})
    m, per_study = compute_socrates_metrics(df)
    assert m["wasserstein"] == pytest.approx(9 / 48, abs=1e-9)
    assert m["wasserstein"] == pytest.approx(
        stats.wasserstein_distance([0, 0.25, 0.5, 1], [0, 0, 1]), abs=1e-12
    )
    assert m["unparseable_rate"] == pytest.approx(0.25)
    assert m["n_rows"] == 4 and m["n_parsed"] == 3
    # accuracy over the 3 parsed rows: y=1,p=1 -> 1; y=2,p=1 -> .75; y=3,p=5 -> .5 => 2.25/3
    assert m["accuracy"] == pytest.approx(0.75, abs=1e-9)
    assert per_study["unparseable_rate"].iloc[0] == pytest.approx(0.25)


def test_grouped_wasserstein_matches_scipy_on_random_cells():
    rng = np.random.default_rng(0)
    ga, va, wa, gb, vb, wb, expected = [], [], [], [], [], [], []
    for g in range(40):
        a = rng.integers(0, 7, size=rng.integers(1, 30)).astype(float)
        b = rng.integers(-2, 9, size=rng.integers(1, 30)).astype(float)
        ua = rng.integers(1, 4, size=a.size).astype(float)
        ub = rng.integers(1, 4, size=b.size).astype(float)
        ga += [g] * a.size
        va += list(a)
        wa += list(ua)
        gb += [g] * b.size
        vb += list(b)
        wb += list(ub)
        expected.append(stats.wasserstein_distance(a, b, ua, ub))
    got = grouped_wasserstein(
        np.array(ga), np.array(va), np.array(wa), np.array(gb), np.array(vb), np.array(wb), 41
    )
    assert got[:40] == pytest.approx(expected, abs=1e-9)
    assert math.isnan(got[40])  # an empty group


# --------------------------------------------------------------------------- uniform baseline


def test_uniform_baseline_hand_case_with_scale():
    # humans [1,1,5,5], scale 1..5 -> humans {0: .5, 1: .5}; uniform over {0,.25,.5,.75,1}
    # G: .2 on [0,.25), .4 on [.25,.5), .6 on [.5,.75), .8 on [.75,1); F_h = .5 on [0,1)
    # integral |F - G| = (.3 + .1 + .1 + .3) * .25 = 0.2
    # model: predictions [1,3,5,5] -> [0,.5,1,1] vs [0,0,1,1]: (0 + .5 + 0 + 0) / 4 = 0.125
    # given as whole distributions (atoms) the model meets the exact uniform:
    # relative improvement = (0.2 - 0.125) / 0.2 = 0.375
    df = frame({("AAAAA", 0, 0): ([1, 1, 5, 5], [1, 3, 5, 5])}, {("AAAAA", 0, 0): (1, 5)})
    m, per_study = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.2, abs=1e-9)
    assert m["wasserstein"] == pytest.approx(0.125, abs=1e-9)
    assert per_study["uniform_wasserstein"].iloc[0] == pytest.approx(0.2, abs=1e-9)
    atoms = (np.arange(4), df["prediction"].to_numpy(float), np.ones(4))
    d, _ = compute_socrates_metrics(df, atoms)
    assert d["wasserstein"] == pytest.approx(0.125, abs=1e-9)
    assert d["relative_improvement_vs_uniform"] == pytest.approx(0.375, abs=1e-9)
    # one draw per participant meets the uniform's one draw per participant
    u = m["uniform_draw_wasserstein"]
    assert m["relative_improvement_vs_uniform"] == pytest.approx((u - 0.125) / u, abs=1e-12)


def test_uniform_baseline_falls_back_to_observed_range():
    # no scale columns: options = integers in the observed 1..5 -> same 0.2 as above
    df = frame({("AAAAA", 0, 0): ([1, 1, 5, 5], [1, 3, 5, 5])})
    m, _ = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.2, abs=1e-9)
    # scale columns present but NaN for the cell: also the observed range
    df = frame({("AAAAA", 0, 0): ([1, 1, 5, 5], [1, 3, 5, 5])}, {})
    m, _ = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.2, abs=1e-9)


def test_uniform_positions_outside_observed_range_stay_outside():
    # humans [2,2,4,4] (observed 2..4) -> {0: .5, 1: .5}; scale 1..5: positions 1..5 placed on
    # the observed range -> -.5, 0, .5, 1, 1.5 (not clipped), .2 each
    # integral |F_h - G| = .2*.5 + .1*.5 + .1*.5 + .2*.5 = 0.3
    # clipped (the old baseline): 2,2,3,4,4 -> {0: .4, .5: .2, 1: .4}: .1*.5 + .1*.5 = 0.1
    df = frame({("AAAAA", 0, 0): ([2, 2, 4, 4], [2, 2, 4, 4])}, {("AAAAA", 0, 0): (1, 5)})
    m, _ = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.3, abs=1e-9)
    assert m["uniform_wasserstein"] == pytest.approx(
        stats.wasserstein_distance([0, 0, 1, 1], [-0.5, 0, 0.5, 1, 1.5]), abs=1e-12)
    assert m["uniform_clipped_wasserstein"] == pytest.approx(0.1, abs=1e-9)
    assert m["wasserstein"] == pytest.approx(0.0, abs=1e-12)
    assert m["relative_improvement_vs_uniform"] == pytest.approx(1.0, abs=1e-9)


def test_uniform_many_options_use_1001_points():
    # scale 0..10000 has 10001 options > 1001 -> points k/1000, k = 0..1000, weight 1/1001 each
    # humans [0,0,10000,10000] -> {0: .5, 1: .5}; on [k/1000, (k+1)/1000) G = (k+1)/1001
    # integral = sum_{j=1..1000} |.5 - j/1001| / 1000 = sum |500.5 - j| / (1001 * 1000)
    # = (125000 + 125000) / 1001000 = 250/1001 (the 10001 exact options would give 2500/10001)
    df = frame(
        {("AAAAA", 0, 0): ([0, 0, 10000, 10000], [0, 0, 10000, 10000])},
        {("AAAAA", 0, 0): (0, 10000)},
    )
    m, _ = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(250 / 1001, abs=1e-9)


def test_uniform_averaged_like_model_on_same_cells():
    # A/cell 1: 0.2 (hand case); A/cell 2: humans [1,2,3] -> [0,.5,1], uniform over the same
    # three options -> 0; B: humans [1,1,5,5] scale 1..5 -> 0.2; cell without predictions in B
    # is left out of both. Study means: A 0.1, B 0.2 -> 0.15 (plain cell mean would be 0.1333)
    df = frame(
        {
            ("AAAAA", 0, 0): ([1, 1, 5, 5], [1, 3, 5, 5]),
            ("AAAAA", 0, 1): ([1, 2, 3], [1, 2, 3]),
            ("BBBBB", 0, 0): ([1, 1, 5, 5], [1, 1, 5, 5]),
            ("BBBBB", 1, 0): ([1, 3], [NAN, NAN]),
        },
        {("AAAAA", 0, 0): (1, 5), ("BBBBB", 0, 0): (1, 5), ("BBBBB", 1, 0): (1, 5)},
    )
    m, per_study = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.15, abs=1e-9)
    assert per_study["uniform_wasserstein"].tolist() == pytest.approx([0.1, 0.2], abs=1e-9)
    assert m["cells_without_predictions"] == 1
    assert m["n_cells"] == 3


def test_relative_improvement_nan_when_uniform_zero():
    # humans [0,1] and options {0,1}: the exact uniform matches exactly -> 0 -> NaN improvement
    # (atoms: the model's distribution is compared with the exact uniform)
    df = frame({("AAAAA", 0, 0): ([0, 1], [0, 0])})
    m, _ = compute_socrates_metrics(df, (np.arange(2), np.zeros(2), np.ones(2)))
    assert m["uniform_wasserstein"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(m["relative_improvement_vs_uniform"])
    assert relative_improvement([0.0, 0.2, NAN], [0.1, 0.05, 0.1]) == pytest.approx(
        [NAN, 0.75, NAN], nan_ok=True)


# --------------------------------------------------------------------------- individual level


def test_accuracy_mae_hand_example():
    # humans [1,2,3,5] (range 4), predictions [1,1,5,5]:
    # accuracy = mean(1, 1 - 1/4, 1 - 2/4, 1) = 3.25 / 4 = 0.8125
    # raw mae = (0 + 1 + 2 + 0) / 4 = 0.75; mae_normalized = (0 + .25 + .5 + 0) / 4 = 0.1875
    df = frame({("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, 5])})
    m, per_study = compute_socrates_metrics(df)
    assert m["accuracy"] == pytest.approx(0.8125, abs=1e-9)
    assert m["raw_pooled_mae"] == pytest.approx(0.75, abs=1e-9)
    assert m["mae_normalized"] == pytest.approx(0.1875, abs=1e-9)
    assert "mae" not in m and "pearson" not in m and "spearman" not in m
    assert per_study["accuracy"].iloc[0] == pytest.approx(0.8125, abs=1e-9)
    assert per_study["mae_normalized"].iloc[0] == pytest.approx(0.1875, abs=1e-9)


def test_correlations_match_scipy_and_skip_nan():
    humans = [1, 2, 3, 4, 5, 2, 7]
    preds = [2, 2, 4, 3, 5, NAN, 6]
    df = frame({("AAAAA", 0, 0): (humans, preds)})
    m, _ = compute_socrates_metrics(df)
    y = np.array([1, 2, 3, 4, 5, 7], dtype=float)
    p = np.array([2, 2, 4, 3, 5, 6], dtype=float)
    assert m["raw_pooled_pearson"] == pytest.approx(np.corrcoef(p, y)[0, 1], abs=1e-12)
    assert m["raw_pooled_spearman"] == pytest.approx(stats.spearmanr(p, y)[0], abs=1e-12)


def test_correlations_nan_for_constant_predictions_without_warnings():
    df = frame({("AAAAA", 0, 0): ([1, 2, 3], [2, 2, 2]), ("BBBBB", 0, 0): ([1], [NAN])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m, _ = compute_socrates_metrics(df)
    for key in ("raw_pooled_pearson", "raw_pooled_spearman", "within_study_pearson",
                "within_study_spearman"):
        assert math.isnan(m[key]), key
    assert m["n_correlation_studies"] == 0
    # a single parsed row
    df = frame({("AAAAA", 0, 0): ([1, 2], [2, NAN])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m, _ = compute_socrates_metrics(df)
    for key in ("raw_pooled_pearson", "raw_pooled_spearman", "within_study_pearson",
                "within_study_spearman"):
        assert math.isnan(m[key]), key
    assert m["n_correlation_studies"] == 0


def test_constant_and_unpredicted_cells_skipped_and_counted():
    # cell 1: normal (W1 0.1875); cell 2: humans all 3 -> constant, skipped;
    # cell 3: no parsed prediction -> skipped
    df = frame(
        {
            ("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, 5]),
            ("AAAAA", 1, 0): ([3, 3, 3], [1, 3, 5]),
            ("BBBBB", 0, 0): ([1, 4], [NAN, NAN]),
        }
    )
    m, per_study = compute_socrates_metrics(df)
    assert m["wasserstein"] == pytest.approx(0.1875, abs=1e-9)
    assert m["cells_constant_skipped"] == 1
    assert m["cells_without_predictions"] == 1
    assert m["n_cells"] == 1 and m["n_cells_total"] == 3 and m["n_studies"] == 1
    # accuracy ignores the constant cell's rows: still 0.8125 from cell 1
    assert m["accuracy"] == pytest.approx(0.8125, abs=1e-9)
    # raw MAE covers every parsed row: (0+1+2+0 + 2+0+2) / 7 = 1
    assert m["raw_pooled_mae"] == pytest.approx(1.0, abs=1e-9)
    assert m["unparseable_rate"] == pytest.approx(2 / 9)
    assert per_study["n_cells"].tolist() == [1, 0]
    assert math.isnan(per_study["wasserstein"].iloc[1])
    assert per_study["unparseable_rate"].tolist() == pytest.approx([0.0, 1.0])


def test_metrics_are_plain_json_types():
    df = frame({("AAAAA", 0, 0): ([1, 2, 3, 5], [1, 1, 5, 5])})
    m, _ = compute_socrates_metrics(df)
    for key, value in m.items():
        assert type(value) in (int, float), key
        if key.startswith(("n_", "cells_")):
            assert type(value) is int, key
    json.dumps(m)


def test_empty_and_missing_columns():
    empty = pd.DataFrame(
        columns=["study_id", "condition_num", "task_num", "response", "prediction"]
    )
    m, per_study = compute_socrates_metrics(empty)
    assert m["n_rows"] == 0 and m["n_cells"] == 0 and math.isnan(m["wasserstein"])
    assert all(math.isnan(m[f"{name}/ci_{end}"]) for name in CI_METRICS for end in ("low", "high"))
    assert per_study.empty and list(per_study.columns) == list(STUDY_COLUMNS)
    with pytest.raises(DataError, match="prediction"):
        compute_socrates_metrics(pd.DataFrame({"study_id": ["A"], "response": [1]}))


def test_large_input_runs_vectorised():
    rng = np.random.default_rng(1)
    n = 200_000
    df = pd.DataFrame(
        {
            "study_id": rng.integers(0, 50, n).astype(str),
            "condition_num": rng.integers(0, 4, n),
            "task_num": rng.integers(0, 5, n),
            "response": rng.integers(1, 8, n),
            "prediction": np.where(rng.random(n) < 0.05, np.nan, rng.integers(1, 8, n)),
            "scale_min": 1.0,
            "scale_max": 7.0,
        }
    )
    m, per_study = compute_socrates_metrics(df)
    assert m["n_cells"] == 1000 and len(per_study) == 50
    assert np.isfinite(m["wasserstein"]) and np.isfinite(m["uniform_wasserstein"])
    assert m["n_parsed"] == int(df["prediction"].notna().sum())


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4),
        (" 7\n", 7),
        ("Answer: 3", 3),
        ("-2", -2),
        ("$1,250", 1250),
        ("1,250", 1250),
        ("12,345,678", 12345678),
        ("4.0", 4),
        ("4.5", None),
        ("0.5", None),
        ("", None),
        ("no idea", None),
        ("3 or 4", 3),
        ("1-5", 1),
        ("I would say 6.", 6),
        ("-$5", -5),
        (None, None),
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Only return an integer from 1 to 5, nothing else.", (1, 5)),
        ("How likely? Only return an integer between 0 and 100, nothing else.", (0, 100)),
        ("Only return an integer from -3 to 3, nothing else.", (-3, 3)),
        ("Only return an integer from 0 to 1,000,000, nothing else.", (0, 1_000_000)),
        ("Rate it from 1 (not at all) to 7 (very). Only return an integer, nothing else.", (1, 7)),
        ("Prices rose between 2010 and 2015. Only return an integer, nothing else.", None),
        ("How many dollars would you give? Only return an integer, nothing else.", None),
        ("", None),
    ],
)
def test_parse_scale(text, expected):
    assert parse_scale(text) == expected


def test_distribution_atoms_give_the_mixture_w1_of_each_cell():
    """Each row's whole predicted distribution: the cell's prediction is the mixture of its
    rows' distributions, against the humans; checked with scipy's weighted W1."""
    cells = {
        ("s1", 0, 0): ([1, 3, 5, 5], [2, 3, 4, 5]),
        ("s1", 1, 0): ([2, 4], [4, 4]),
        ("s2", 0, 0): ([1, 2, 2], [1, 1, 2]),
    }
    df = frame(cells)
    rng = np.random.default_rng(0)
    rows, values, mass = [], [], []
    for i in range(len(df)):
        p = rng.dirichlet(np.ones(5))
        rows += [i] * 5
        values += [1, 2, 3, 4, 5]
        mass += list(p)
    rows, values, mass = np.array(rows), np.array(values, float), np.array(mass)
    metrics, _ = compute_socrates_metrics(df, (rows, values, mass))

    def cell_w1(idx, lo, hi):
        humans = (df["response"].to_numpy()[idx] - lo) / (hi - lo)
        sel = np.isin(rows, idx)
        pred = (np.clip(values[sel], lo, hi) - lo) / (hi - lo)
        return stats.wasserstein_distance(humans, pred, v_weights=mass[sel])

    s1 = (cell_w1(np.arange(0, 4), 1, 5) + cell_w1(np.arange(4, 6), 2, 4)) / 2
    s2 = cell_w1(np.arange(6, 9), 1, 2)
    assert metrics["wasserstein"] == pytest.approx((s1 + s2) / 2, abs=1e-12)
    # The individual metrics still use the point predictions.
    point, _ = compute_socrates_metrics(df)
    assert metrics["accuracy"] == point["accuracy"]
    assert metrics["mae_normalized"] == point["mae_normalized"]
    # Atoms that are the point predictions themselves give the point W1.
    parsed = np.arange(len(df))
    same, _ = compute_socrates_metrics(
        df, (parsed, df["prediction"].to_numpy(float), np.ones(len(df))))
    assert same["wasserstein"] == pytest.approx(point["wasserstein"], abs=1e-12)


# --------------------------------------------------------------------------- against a reference


def random_frame(seed=5):
    """Studies of 1-3 cells on 2-point, 5-point, 0-10 and open-ended (no stated scale) answers;
    humans use part of the scale (so the uniform reaches outside the observed range),
    predictions roam the whole scale (so they get clipped), some unparseable."""
    rng = np.random.default_rng(seed)
    scales = [(1, 2), (1, 5), (0, 10), None]
    rows = []
    for s in range(7):
        scale = scales[s % len(scales)]
        lo, hi = scale if scale else (0, 120)
        for cond in range(int(rng.integers(1, 4))):
            n = int(rng.integers(2, 9))
            a, b = sorted(rng.integers(lo, hi + 1, size=2))
            for _ in range(n):
                pred = float(rng.integers(lo, hi + 1)) if rng.random() > 0.15 else NAN
                rows.append({"study_id": f"S{s}", "condition_num": cond, "task_num": 0,
                             "response": int(rng.integers(a, b + 1)), "prediction": pred,
                             "scale_min": scale[0] if scale else NAN,
                             "scale_max": scale[1] if scale else NAN})
    return pd.DataFrame(rows)


def reference_study_w1(df, seed):
    """Per study (study_id order) the mean over scored cells of each W1, computed cell by cell
    with scipy, the uniform draws repeated by hand."""
    u = np.random.default_rng(seed).random(len(df))
    out = {}
    for (study, _, _), g in df.groupby(["study_id", "condition_num", "task_num"]):
        y = g["response"].to_numpy(float)
        p = g["prediction"].dropna().to_numpy(float)
        lo, hi = y.min(), y.max()
        if lo == hi or p.size == 0:
            continue
        stated = g.dropna(subset=["scale_min", "scale_max"])
        a, b = (stated.iloc[0][["scale_min", "scale_max"]] if len(stated) else (lo, hi))
        positions = np.arange(a, b + 1, dtype=float)
        k = positions.size
        draws = positions[np.minimum(np.floor(u[g.index] * k), k - 1).astype(int)]

        def scaled(v, lo=lo, hi=hi):
            return (np.asarray(v, float) - lo) / (hi - lo)

        w = stats.wasserstein_distance
        out.setdefault(study, []).append((
            w(scaled(y), scaled(np.clip(p, lo, hi))),
            w(scaled(y), scaled(positions)),
            w(scaled(y), scaled(draws)),
            w(scaled(y), scaled(np.clip(positions, lo, hi))),
        ))
    names = ("wasserstein", "uniform_wasserstein", "uniform_draw_wasserstein",
             "uniform_clipped_wasserstein")
    studies = sorted(out)
    return {name: np.array([np.mean([c[j] for c in out[s]]) for s in studies])
            for j, name in enumerate(names)}


def test_every_w1_matches_scipy_cell_by_cell():
    df = random_frame()
    m, per_study = compute_socrates_metrics(df, seed=7)
    ref = reference_study_w1(df, seed=7)
    assert (df["scale_min"].isna() & (df["response"] > 10)).any()  # an open-ended cell
    for name, values in ref.items():
        assert m[name] == pytest.approx(values.mean(), abs=1e-12), name
        scored = per_study.dropna(subset=["wasserstein"])
        assert scored[name].to_numpy() == pytest.approx(values, abs=1e-12), name
    # the unclipped uniform is never closer than the clipped one, and here strictly further
    assert m["uniform_wasserstein"] > m["uniform_clipped_wasserstein"]
    u = ref["uniform_draw_wasserstein"].mean()
    assert m["relative_improvement_vs_uniform"] == pytest.approx(
        (u - ref["wasserstein"].mean()) / u, abs=1e-12)
    # another seed, other draws; the exact distributions do not move
    other, _ = compute_socrates_metrics(df, seed=8)
    assert other["uniform_draw_wasserstein"] != m["uniform_draw_wasserstein"]
    assert other["uniform_wasserstein"] == m["uniform_wasserstein"]


def test_open_ended_uniform_uses_the_observed_range():
    # no stated scale, humans 0..4 -> positions 0,1,2,3,4 on [0, 1]: exactly the observed
    # range, so clipped and unclipped agree; humans [0,0,4,4] vs 5 equal atoms -> 0.2
    df = frame({("AAAAA", 0, 0): ([0, 0, 4, 4], [0, 1, 2, 3])}, {})
    m, _ = compute_socrates_metrics(df)
    assert m["uniform_wasserstein"] == pytest.approx(0.2, abs=1e-12)
    assert m["uniform_clipped_wasserstein"] == pytest.approx(0.2, abs=1e-12)


def test_bootstrap_intervals_match_a_hand_rolled_bootstrap():
    df = random_frame(seed=11)
    m, _ = compute_socrates_metrics(df, seed=3, n_resamples=400)
    ref = reference_study_w1(df, seed=3)
    n = ref["wasserstein"].size
    rng = np.random.default_rng(3)
    means = {name: [] for name in ("wasserstein", "uniform_wasserstein",
                                   "uniform_draw_wasserstein", "uniform_clipped_wasserstein")}
    ratios = []
    for _ in range(400):
        pick = rng.integers(0, n, size=n)
        for name in means:
            means[name].append(ref[name][pick].mean())
        model, uniform = ref["wasserstein"][pick].mean(), ref["uniform_draw_wasserstein"][
            pick].mean()
        ratios.append((uniform - model) / uniform)
    means["relative_improvement_vs_uniform"] = ratios
    for name, samples in means.items():
        low, high = np.percentile(samples, [2.5, 97.5])
        assert m[f"{name}/ci_low"] == pytest.approx(low, abs=1e-12), name
        assert m[f"{name}/ci_high"] == pytest.approx(high, abs=1e-12), name
        assert low <= m[name] <= high, name
    none, _ = compute_socrates_metrics(df, n_resamples=0)
    assert math.isnan(none["wasserstein/ci_low"]) and math.isfinite(none["wasserstein"])


def test_distribution_intervals_pair_with_the_exact_uniform():
    df = random_frame(seed=2)
    parsed = np.flatnonzero(df["prediction"].notna().to_numpy())
    atoms = (parsed, df["prediction"].to_numpy(float)[parsed], np.ones(parsed.size))
    m, _ = compute_socrates_metrics(df, atoms, seed=4, n_resamples=300)
    ref = reference_study_w1(df, seed=4)
    assert m["relative_improvement_vs_uniform"] == pytest.approx(
        relative_improvement(ref["uniform_wasserstein"].mean(), ref["wasserstein"].mean()))
    n = ref["wasserstein"].size
    picks = np.random.default_rng(4).integers(0, n, size=(300, n))
    ratios = relative_improvement(ref["uniform_wasserstein"][picks].mean(1),
                                  ref["wasserstein"][picks].mean(1))
    assert (m["relative_improvement_vs_uniform/ci_low"],
            m["relative_improvement_vs_uniform/ci_high"]) == pytest.approx(
        tuple(np.percentile(ratios, [2.5, 97.5])), abs=1e-12)
    assert percentile_interval(np.array([NAN, NAN])) == pytest.approx((NAN, NAN), nan_ok=True)


def test_accuracy_and_normalised_mae_match_numpy_row_by_row():
    df = random_frame(seed=9)
    m, per_study = compute_socrates_metrics(df)
    g = df.groupby(["study_id", "condition_num", "task_num"])["response"]
    lo, hi = g.transform("min").to_numpy(float), g.transform("max").to_numpy(float)
    y, p = df["response"].to_numpy(float), df["prediction"].to_numpy(float)
    rows = ~np.isnan(p) & (hi > lo)
    err = np.abs(np.clip(p[rows], lo[rows], hi[rows]) - y[rows]) / (hi[rows] - lo[rows])
    assert m["accuracy"] == pytest.approx(1 - err.mean(), abs=1e-12)
    assert m["mae_normalized"] == pytest.approx(err.mean(), abs=1e-12)
    assert m["raw_pooled_mae"] == pytest.approx(np.nanmean(np.abs(p - y)), abs=1e-12)
    by_study = pd.Series(err, index=df["study_id"][rows]).groupby(level=0).mean()
    got = per_study.set_index("study_id")["mae_normalized"].dropna()
    assert got.to_numpy() == pytest.approx(by_study.loc[got.index].to_numpy(), abs=1e-12)


def test_within_study_correlations_match_scipy_per_study():
    df = random_frame(seed=13)
    # study S1: every prediction the same -> no correlation, skipped and counted
    df.loc[df["study_id"] == "S1", "prediction"] = 3.0
    m, per_study = compute_socrates_metrics(df)
    g = df.groupby(["study_id", "condition_num", "task_num"])["response"]
    lo, hi = g.transform("min"), g.transform("max")
    rows = df["prediction"].notna() & (hi > lo)
    d = df[rows].assign(
        y=(df["response"] - lo) / (hi - lo),
        p=(df["prediction"].clip(lo, hi) - lo) / (hi - lo))
    pearson, spearman, skipped = {}, {}, 0
    for study, s in d.groupby("study_id"):
        if len(s) < 2 or s["p"].nunique() == 1 or s["y"].nunique() == 1:
            skipped += 1
            continue
        pearson[study] = stats.pearsonr(s["p"], s["y"])[0]
        spearman[study] = stats.spearmanr(s["p"], s["y"])[0]
    assert skipped >= 1 and len(pearson) >= 3
    assert m["within_study_pearson"] == pytest.approx(np.mean(list(pearson.values())), abs=1e-12)
    assert m["within_study_spearman"] == pytest.approx(np.mean(list(spearman.values())),
                                                       abs=1e-12)
    assert m["n_correlation_studies"] == len(pearson)
    assert m["correlation_studies_skipped"] == skipped
    table = per_study.set_index("study_id")
    assert table.loc[list(pearson), "pearson"].tolist() == pytest.approx(list(pearson.values()))
    assert math.isnan(table.loc["S1", "pearson"])


def test_a_constant_midpoint_guess_scores_only_in_the_raw_pooled_correlation():
    # the finding in miniature: one 1..2 study, one 0..100 study, each answered by its
    # scale's midpoint. Pooled raw Pearson is high because the scales differ; within each study
    # the guess is constant, so there is no correlation to report.
    rng = np.random.default_rng(0)
    small, large = rng.integers(1, 3, 30), rng.integers(0, 101, 30)
    df = frame({("AAAAA", 0, 0): (small, [1.5] * 30), ("BBBBB", 0, 0): (large, [50.0] * 30)})
    m, _ = compute_socrates_metrics(df)
    assert m["raw_pooled_pearson"] > 0.5
    assert math.isnan(m["within_study_pearson"]) and m["correlation_studies_skipped"] == 2
