"""The paper table: its numbers against a computation by hand, and the command that builds one
from real run directories and base models (``python -m socio_re.cli.paper_table``)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import run_module, run_train

from socio_re.metrics.bootstrap import paired_relative_improvement
from socio_re.tasks.socrates.paper_table import (
    COLUMNS,
    HEADERS,
    TableEntry,
    paper_table,
    table_markdown,
    write_table,
)

# Made-up per-study W1: the base lacks study "e" and is undefined on "d", so only a, b, c are
# shared (and they are listed out of order: the bootstrap sorts them by id).
BASE_W1 = {"c": 0.50, "a": 0.40, "b": 0.30, "d": float("nan")}
MODEL_W1 = {"b": 0.35, "a": 0.20, "e": 0.30, "d": 0.10, "c": 0.25}


def by_hand(base: list[float], model: list[float], seed: int, n_resamples: int):
    """(B - M) / B over the studies, and its paired percentile interval, written out."""
    b, m = np.array(base), np.array(model)
    estimate = (b.mean() - m.mean()) / b.mean()
    picks = np.random.default_rng(seed).integers(0, len(b), size=(n_resamples, len(b)))
    stats = []
    for row in picks:
        mb, mm = b[row].mean(), m[row].mean()
        stats.append((mb - mm) / mb)
    low, high = np.percentile(stats, [2.5, 97.5])
    return estimate, low, high


def per_study(w1: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"study_id": list(w1), "wasserstein": list(w1.values())})


def test_paired_relative_improvement_by_hand():
    est, low, high, n = paired_relative_improvement(BASE_W1, MODEL_W1, seed=5, n_resamples=400)
    want = by_hand([0.40, 0.30, 0.50], [0.20, 0.35, 0.25], seed=5, n_resamples=400)
    assert n == 3
    assert est == pytest.approx((0.4 - 0.8 / 3) / 0.4)
    assert (est, low, high) == pytest.approx(want)
    assert low < est < high
    # No intervals asked for; no shared study: NaNs, not an error.
    est0, low0, high0, _ = paired_relative_improvement(BASE_W1, MODEL_W1, seed=5,
                                                       n_resamples=0)
    assert est0 == pytest.approx(est) and math.isnan(low0) and math.isnan(high0)
    nothing = paired_relative_improvement({"x": 0.3}, {"y": 0.2}, seed=0)
    assert all(math.isnan(v) for v in nothing[:3]) and nothing[3] == 0


def _entries() -> list[TableEntry]:
    first = {"wasserstein": 0.42, "wasserstein/ci_low": 0.30, "wasserstein/ci_high": 0.55,
             "uniform_draw_wasserstein": 0.60, "uniform_draw_wasserstein/ci_low": 0.50,
             "uniform_draw_wasserstein/ci_high": 0.70, "uniform_wasserstein": 0.45,
             "uniform_wasserstein/ci_low": 0.40, "uniform_wasserstein/ci_high": 0.52,
             "uniform_clipped_wasserstein": 0.38, "uniform_clipped_wasserstein/ci_low": 0.31,
             "uniform_clipped_wasserstein/ci_high": 0.44,
             "relative_improvement_vs_uniform": 0.30, "accuracy": 0.61,
             "within_study_pearson": 0.05, "unparseable_rate": 0.0, "n_studies": 3}
    tuned = {"wasserstein": 0.27, "wasserstein/ci_low": 0.2, "wasserstein/ci_high": 0.33,
             "relative_improvement_vs_uniform": 0.55,
             "relative_improvement_vs_uniform/ci_low": 0.4,
             "relative_improvement_vs_uniform/ci_high": 0.7, "accuracy": 0.7,
             "within_study_pearson": 0.2, "unparseable_rate": 0.1, "n_studies": 4}
    return [TableEntry("base model: tiny (zero-shot)", first, per_study(BASE_W1), "base"),
            TableEntry("tiny, fine-tuned", tuned, per_study(MODEL_W1))]


def test_paper_table_rows_and_numbers():
    table = paper_table(_entries(), seed=11, n_resamples=300)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["system"]) == ["uniform (one draw per participant)",
                                     "uniform (exact distribution; the paper's)",
                                     "uniform (exact, clipped into the observed range)",
                                     "base model: tiny (zero-shot)", "tiny, fine-tuned"]
    assert list(table["kind"]) == ["baseline"] * 3 + ["base", "model"]
    draw, exact, clipped, base, tuned = (table.iloc[i] for i in range(5))
    # The uniform rows come from the entry with the most scored cells (here: a tie, so the
    # first); the single draw is the 0 of "vs uniform".
    assert (draw["wasserstein"], draw["wasserstein_ci_low"], draw["wasserstein_ci_high"]) == (
        0.60, 0.50, 0.70)
    assert draw["rel_vs_uniform"] == 0.0 and exact["wasserstein"] == 0.45
    assert math.isnan(exact["rel_vs_uniform"])
    assert (clipped["wasserstein"], clipped["wasserstein_ci_low"],
            clipped["wasserstein_ci_high"]) == (0.38, 0.31, 0.44)
    assert (tuned["wasserstein"], tuned["rel_vs_uniform_ci_high"], tuned["n_studies"]) == (
        0.27, 0.7, 4)
    # The base is the reference of "vs base": nothing on its own row, the paired bootstrap
    # over the shared studies on the others.
    assert math.isnan(base["rel_vs_base"]) and math.isnan(base["rel_vs_base_ci_low"])
    want = by_hand([0.40, 0.30, 0.50], [0.20, 0.35, 0.25], seed=11, n_resamples=300)
    assert (tuned["rel_vs_base"], tuned["rel_vs_base_ci_low"],
            tuned["rel_vs_base_ci_high"]) == pytest.approx(want)
    # Without a base entry there is no "vs base" at all.
    alone = paper_table(_entries()[1:], seed=11, n_resamples=300)
    assert alone["rel_vs_base"].isna().all() and len(alone) == 4


def test_uniform_rows_come_from_the_system_with_most_scored_cells():
    """The uniform baseline is scored on the cells a system answered: a system that left
    cells unanswered does not shrink the uniform rows of everyone."""
    base, tuned = _entries()
    base.metrics["n_cells"] = 5
    tuned.metrics.update(n_cells=9, uniform_draw_wasserstein=0.66, uniform_wasserstein=0.5)
    table = paper_table([base, tuned], seed=0, n_resamples=50)
    assert (table.loc[0, "wasserstein"], table.loc[1, "wasserstein"]) == (0.66, 0.5)
    assert table.loc[0, "n_studies"] == 4
    tuned.metrics["n_cells"] = 5  # a tie: the first entry's
    table = paper_table([base, tuned], seed=0, n_resamples=50)
    assert (table.loc[0, "wasserstein"], table.loc[1, "wasserstein"]) == (0.60, 0.45)


def test_markdown_and_csv(tmp_path):
    table = paper_table(_entries(), seed=0, n_resamples=200)
    text = table_markdown(table, "test split, 3 studies")
    lines = text.strip().splitlines()
    assert lines[0] == "test split, 3 studies" and lines[1] == ""
    assert lines[2] == "| " + " | ".join(HEADERS) + " |"
    assert lines[3].startswith("|---|---:")
    rows = lines[4:]
    assert len(rows) == len(table) == 5
    for row, system in zip(rows, table["system"], strict=True):
        assert row.startswith(f"| {system} |") and row.count("|") == len(HEADERS) + 1
    assert "0.270 [0.200, 0.330]" in rows[4] and "0 (reference)" in rows[0]

    files = write_table(table, tmp_path, "caption line")
    assert files["paper_table"].read_text() == table_markdown(table, "caption line")
    back = pd.read_csv(files["paper_table_csv"])
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


# --- the command, on a real (briefly) trained run ------------------------------------------

SEED = 3
ROWS = 120


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cache_dir):
    """A full fine-tune of the tiny model for a few steps (no scoring, no tracking): a run
    directory with config.yaml, summary.json and model/, as train.py leaves it."""
    work = tmp_path_factory.mktemp("paper_table")
    run_dir = work / "run"
    out = run_train(["trainer.max_steps=4", "trainer.logging_steps=2", "trainer.eval_steps=100",
                     "trainer.save_steps=100", "evaluate=false", "tracking=none",
                     "run_name=pt-ft", f"hydra.run.dir={run_dir}"], work,
                    env={"SOCIO_RE_CACHE_DIR": str(cache_dir)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return work, run_dir


@pytest.fixture(scope="module")
def table_dir(trained_run):
    """The command once, shared: the run and the untrained tiny model on 120 test rows. Score
    decoding reads an answer from every row's scale, so even a barely trained model answers
    every row and every W1 is defined."""
    work, run_dir = trained_run
    out_dir = work / "table"
    out = run_module("socio_re.cli.paper_table",
                     [str(run_dir), "--base", "tiny-causal", "--label", "tiny-causal=untrained",
                      "--max-rows", str(ROWS), "--decoding", "score", "--seed", str(SEED),
                      "--out", str(out_dir)], work)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out_dir, out.stdout


@pytest.mark.slow
def test_command_writes_the_table(table_dir):
    from socio_re.tasks.socrates.metrics import compute_socrates_metrics

    out_dir, stdout = table_dir
    table = pd.read_csv(out_dir / "paper_table.csv")
    assert list(table["system"]) == ["uniform (one draw per participant)",
                                     "uniform (exact distribution; the paper's)",
                                     "uniform (exact, clipped into the observed range)",
                                     "untrained", "pt-ft"]  # --label; the run's run_name
    assert list(table["kind"]) == ["baseline"] * 3 + ["base", "model"]
    preds = {name: pd.read_csv(out_dir / name / "test_predictions.csv")
             for name in ("untrained", "pt-ft")}
    assert all(len(p) == ROWS for p in preds.values())
    assert list(preds["untrained"]["sample_id"]) == list(preds["pt-ft"]["sample_id"])
    # Each system's W1 is what its own predictions give, recomputed from the written file.
    recomputed = {}
    for row, name in ((3, "untrained"), (4, "pt-ft")):
        metrics, studies = compute_socrates_metrics(preds[name], seed=SEED)
        recomputed[name] = dict(zip(studies["study_id"].astype(str), studies["wasserstein"],
                                    strict=True))
        assert math.isfinite(metrics["wasserstein"])
        assert table.loc[row, "wasserstein"] == pytest.approx(metrics["wasserstein"], rel=1e-9)
        assert table.loc[row, "n_studies"] == metrics["n_studies"]
    # The uniform rows (from the system with the most scored cells) and "vs base" follow from
    # the same files.
    scored = [compute_socrates_metrics(preds[n], seed=SEED, n_resamples=0)[0]
              for n in ("untrained", "pt-ft")]
    widest = max(scored, key=lambda m: m["n_cells"])
    assert table.loc[0, "wasserstein"] == pytest.approx(widest["uniform_draw_wasserstein"])
    assert table.loc[1, "wasserstein"] == pytest.approx(widest["uniform_wasserstein"])
    assert table.loc[2, "wasserstein"] == pytest.approx(widest["uniform_clipped_wasserstein"])
    est, low, high, _ = paired_relative_improvement(recomputed["untrained"],
                                                    recomputed["pt-ft"], seed=SEED)
    assert (table.loc[4, "rel_vs_base"], table.loc[4, "rel_vs_base_ci_low"],
            table.loc[4, "rel_vs_base_ci_high"]) == pytest.approx((est, low, high))
    md = (out_dir / "paper_table.md").read_text()
    assert md.startswith(f"test split (unseen_studies), {ROWS} rows from ")
    assert "score decoding; 95% bootstrap intervals over studies" in md.splitlines()[0]
    assert "| pt-ft |" in md and "| untrained |" in md
    assert str(out_dir / "paper_table.md") in stdout
    assert "| pt-ft |" in stdout and "| untrained |" in stdout  # the table itself, unwrapped


def _lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.strip().splitlines() if ln.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["other_split_seed", "unknown_base", "table_exists"])
def test_command_refuses_bad_input_in_one_line(trained_run, table_dir, tmp_path, case):
    work, run_dir = trained_run
    out_dir = tmp_path / "out"
    args = [str(run_dir), "--out", str(out_dir)]
    if case == "other_split_seed":  # a run of another split: different test rows
        from omegaconf import OmegaConf

        other = tmp_path / "other"
        (other / "model").mkdir(parents=True)
        cfg = OmegaConf.load(run_dir / "config.yaml")
        assert cfg.data.split.seed == 42
        cfg.data.split.seed = 7
        OmegaConf.save(cfg, other / "config.yaml")
        args.insert(1, str(other))
        words = ("data.split.seed=7", "same rows")
    elif case == "unknown_base":
        args += ["--base", "no-such-model"]
        words = ("no-such-model", "tiny-causal", "qwen2.5-0.5b-instruct")
    else:  # a finished table is never mixed with new results
        shutil.copytree(table_dir[0], out_dir)
        words = ("already holds a paper table", "--out")
    before = sorted(p.name for p in out_dir.rglob("*")) if out_dir.exists() else None
    out = run_module("socio_re.cli.paper_table", args, work)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = _lines(out.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert all(w in lines[0] for w in words), lines[0]
    after = sorted(p.name for p in out_dir.rglob("*")) if out_dir.exists() else None
    assert after == before  # nothing written, nothing removed


@pytest.mark.slow
def test_a_failure_while_scoring_leaves_nothing_behind(trained_run, tmp_path):
    """The second run's model cannot load: the first system's tables, already written, go."""
    work, run_dir = trained_run
    broken = tmp_path / "broken"
    (broken / "model").mkdir(parents=True)
    (broken / "model" / "config.json").write_text("{}")
    shutil.copy(run_dir / "config.yaml", broken / "config.yaml")
    out_dir = tmp_path / "out"
    out = run_module("socio_re.cli.paper_table",
                     [str(run_dir), str(broken), "--max-rows", "24", "--out", str(out_dir)], work)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert _lines(out.stderr)[-1].startswith(f"error: cannot load the model from '{broken}")
    assert not out_dir.exists()
