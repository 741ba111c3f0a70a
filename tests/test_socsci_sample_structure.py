"""The generated SocSci210 sample has structure that carries from one study to another, as real
survey data does: the framing of a condition moves answers the same way in every study of a
topic, ideology moves them in the topic's direction, answers lean to the upper half of a scale.
So a learner fitted on some studies can beat the uniform baseline on held-out ones; the last
test proves it with the simplest such learner (no language model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socio_re.tasks.socrates.answers import parse_scale
from socio_re.tasks.socrates.data import generate_sample
from socio_re.tasks.socrates.data.sample import HIDDEN, IDEOLOGY, TOPICS
from socio_re.tasks.socrates.metrics import compute_socrates_metrics


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("structured")
    generate_sample(out, num_studies=40, participants_per_study=30, seed=0)
    frame = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("train-*.parquet"))])
    scales = [parse_scale(s) for s in frame["stimuli"]]
    frame["scale_min"] = [s[0] if s else np.nan for s in scales]
    frame["scale_max"] = [s[1] if s else np.nan for s in scales]
    frame["topic"] = [next((i for i, t in enumerate(TOPICS) if s.startswith(t.vignette)), -1)
                      for s in frame["stimuli"]]
    bounded = frame[frame["scale_min"].notna() & (frame["topic"] >= 0)].copy()
    bounded["y"] = (bounded["response"] - bounded["scale_min"]) / (
        bounded["scale_max"] - bounded["scale_min"])
    return bounded.reset_index(drop=True)


def _framing(row) -> int:
    topic = TOPICS[row["topic"]]
    return topic.framing[row["condition_num"]]


def test_framing_moves_answers_the_same_way_in_every_study(rows):
    rows = rows.assign(framing=rows.apply(_framing, axis=1))
    checked = agree = 0
    for _, study in rows.groupby(["study_id", "task_num"]):
        up, down = study[study["framing"] > 0]["y"], study[study["framing"] < 0]["y"]
        if len(up) >= 5 and len(down) >= 5:
            checked += 1
            agree += up.mean() > down.mean()
    assert checked >= 10
    assert agree / checked >= 0.8, f"{agree} of {checked} study-questions"


def test_ideology_moves_answers_in_the_topic_direction(rows):
    conservative = rows["demographic"].map(lambda d: IDEOLOGY.index(d["ideology"]))
    rows = rows.assign(conservative=conservative)
    checked = agree = 0
    for (_, topic), study in rows.groupby(["study_id", "topic"]):
        if study["y"].nunique() > 1 and study["conservative"].nunique() > 1:
            checked += 1
            r = np.corrcoef(study["conservative"], study["y"])[0, 1]
            agree += np.sign(r) == TOPICS[topic].valence
    assert checked >= 20
    assert agree / checked >= 0.9, f"{agree} of {checked} studies"


def test_answers_lean_to_the_upper_half_of_the_scale(rows):
    assert HIDDEN.intercept_mean > 0
    assert 0.55 < rows["y"].mean() < 0.8


def test_a_learner_fitted_on_other_studies_beats_uniform_on_held_out_ones(rows):
    """Per answer scale, the pooled answers of the training studies, one seeded draw per held-out
    participant, against the one-draw uniform baseline, on a fifth of the studies."""
    studies = np.array(sorted(rows["study_id"].unique()))
    held = set(np.random.default_rng(1).permutation(studies)[: len(studies) // 5])
    train, test = rows[~rows["study_id"].isin(held)], rows[rows["study_id"].isin(held)]
    rng = np.random.default_rng(0)
    pools = {k: g["response"].to_numpy() for k, g in train.groupby(["scale_min", "scale_max"])}
    prediction = [rng.choice(pools[(lo, hi)]) if (lo, hi) in pools else np.nan
                  for lo, hi in zip(test["scale_min"], test["scale_max"], strict=True)]
    metrics, _ = compute_socrates_metrics(test.assign(prediction=prediction), seed=0)
    assert metrics["wasserstein"] < metrics["uniform_draw_wasserstein"]
    assert metrics["relative_improvement_vs_uniform/ci_low"] > 0, metrics
