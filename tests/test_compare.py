"""The comparison report: ranking, differing params, sweeps, plots and user errors, over a real
MLflow sqlite store filled by hand (no training), so every expected value is computed here."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from socio_re.cli.compare import main
from socio_re.tracking.compare import Report, differing_params, lower_is_better, rank_order
from socio_re.tracking.compare_columns import (
    param_columns,
    parse_overrides,
    shorten,
    shorten_column,
)
from socio_re.tracking.compare_plots import fold_groups, fold_spread_figure, metric_vs_figure

ROOT = Path(__file__).resolve().parents[1]
LR, BS = "trainer.learning_rate", "trainer.per_device_train_batch_size"
S1, S2 = "relext/lr=0.001,0.0001", "relext/fold=0,1"
PNG = b"\x89PNG\r\n\x1a\n"

# name: (sweep, lr, batch size, fold, objective (None: not logged), status, train/loss curve)
RELEXT_RUNS = {
    "s1-a-f0": (S1, "0.001", "8", "0", 0.40, "FINISHED", [1.0, 0.8, 0.6]),
    "s1-a-f1": (S1, "0.001", "8", "1", 0.50, "FINISHED", [1.1, 0.9, 0.7]),
    "s1-b-f0": (S1, "0.0001", "16", "0", 0.30, "FINISHED", None),
    "s1-b-f1": (S1, "0.0001", "16", "1", None, "FAILED", None),
    "s2-f0": (S2, "0.01", "8", "0", 0.60, "FINISHED", [0.9, 0.5, 0.3]),
    "s2-f1": (S2, "0.01", "8", "1", 0.45, "FINISHED", None),
    "single": (None, "0.001", "16", "None", 0.35, "FINISHED", None),
}
RELEXT_ORDER = ["s2-f0", "s1-a-f1", "s2-f1", "s1-a-f0", "single", "s1-b-f0", "s1-b-f1"]
VARYING = ["fold", LR, BS]
SOCRATES_RUNS = {"soc-lr1e-3": ("0.001", 0.20), "soc-lr1e-4": ("0.0001", 0.10),
                 "soc-lr1e-5": ("1e-05", 0.30)}

# What strategy=zero2/zero3/single flatten to: dozens of derived engine keys in the real config
# (a few here, long enough that listing them all makes a table far wider than a terminal).
DS = "strategy.deepspeed."
ENGINE_PARAMS = {
    "zero2": {"strategy.name": "zero2", f"{DS}zero_optimization.stage": "2",
              f"{DS}zero_optimization.allgather_bucket_size": "200000000",
              f"{DS}zero_optimization.reduce_bucket_size": "auto",
              f"{DS}optimizer.params.torch_adam": "True",
              f"{DS}train_micro_batch_size_per_gpu": "auto",
              f"{DS}gradient_accumulation_steps": "auto"},
    "zero3": {"strategy.name": "zero3", f"{DS}zero_optimization.stage": "3",
              f"{DS}zero_optimization.reduce_bucket_size": "auto",
              f"{DS}zero_optimization.stage3_prefetch_bucket_size": "auto",
              f"{DS}zero_optimization.stage3_param_persistence_threshold": "auto",
              f"{DS}zero_optimization.stage3_gather_16bit_weights_on_model_save": "True",
              f"{DS}optimizer.params.torch_adam": "True",
              f"{DS}train_micro_batch_size_per_gpu": "auto"},
    "single": {"strategy.name": "single", "strategy.deepspeed": "None"},
}
LONG_MODULES = "['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj']"
# name: (strategy, lr, status, objective (None: not logged)); socrates: lower is better.
ENGINE_RUNS = {
    "e-zero2": ("zero2", "0.001", "FINISHED", 0.20),
    "e-zero3": ("zero3", "0.001", "FINISHED", 0.25),
    "e-running": ("zero3", "0.001", "RUNNING", 0.28),
    "e-single": ("single", "0.001", "FINISHED", 0.30),
    "e-failed": ("zero2", "0.01", "FAILED", None),
    "e-killed": ("single", "0.001", "KILLED", None),
}


def _params(name: str, lr: str, batch: str, fold: str) -> dict[str, str]:
    """A config's flattened params: the ones compared plus noise that differs on every run."""
    return {"model.name": "tiny-causal", "seed": "42", "trainer.num_train_epochs": "1",
            LR: lr, BS: batch, "fold": fold, "run_name": name, "tags": f"['{name}']",
            "paths.cache_dir": f"/cache/{name}", "tracking.experiment_name": name,
            "sweep.job_num": name, "hydra.job.num": name, "trainer.output_dir": f"/o/{name}",
            "data.dir": f"/d/{name}"}


def _log(client, run_id: str, *, params=None, metrics=None, tags=None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
                     params=[Param(k, v) for k, v in (params or {}).items()],
                     tags=[RunTag(k, v) for k, v in (tags or {}).items()])


def _fill_relext(client, exp_id: str) -> dict[str, str]:
    """Two sweeps (parents + jobs) and one single run; returns the parents' run ids."""
    parents = {}
    for sweep, oof in ((S1, 0.42), (S2, 0.50)):
        run = client.create_run(exp_id, run_name=f"sweep {sweep}", tags={
            "socio_re.sweep_parent": "true", "sweep_id": sweep, "task": "relext",
            "overrides": sweep.removeprefix("relext/")})
        _log(client, run.info.run_id, metrics={"oof/micro_f1": oof})
        client.set_terminated(run.info.run_id, "FINISHED")
        parents[sweep] = run.info.run_id
    for num, (name, (sweep, lr, batch, fold, obj, status, loss)) in enumerate(
            RELEXT_RUNS.items()):
        tags = {"task": "relext", "model": "minilm", "run_dir": f"/o/{name}"}
        if fold != "None":
            tags["fold"] = fold
        if sweep:  # a sweep job's overrides: the sweep's fixed ones and its own choice
            tags.update({"mlflow.parentRunId": parents[sweep], "sweep_id": sweep,
                         "job_num": str(num),
                         "overrides": f"task=relext {LR}={lr} {BS}={batch} fold={fold}"})
        run_id = client.create_run(exp_id, run_name=name, tags=tags).info.run_id
        # The failed job logged a validation score before it crashed, but no final metrics.
        metrics = {"val/micro_f1": 0.9} if obj is None else {
            "objective": obj, "val/micro_f1": obj, "test/micro_f1": round(obj - 0.05, 2)}
        _log(client, run_id, params=_params(name, lr, batch, fold), metrics=metrics)
        for step, value in enumerate(loss or []):
            client.log_metric(run_id, "train/loss", value, step=step * 10)
        client.set_terminated(run_id, status)
    return parents


def _fill_socrates(client, exp_id: str) -> None:
    for name, (lr, obj) in SOCRATES_RUNS.items():
        run_id = client.create_run(exp_id, run_name=name, tags={"task": "socrates"}).info.run_id
        _log(client, run_id, params=_params(name, lr, "4", "None"),
             metrics={"objective": obj, "test/wasserstein": obj})
        client.set_terminated(run_id, "FINISHED")


def _fill_engines(client, exp_id: str, tagged: bool) -> None:
    """Socrates runs on three strategies, one of each status; ``tagged``: with the overrides
    tag every run now carries (a strategy choice, the learning rate and bookkeeping), else as
    runs logged before it existed."""
    for name, (strategy, lr, status, obj) in ENGINE_RUNS.items():
        chosen = f" strategy={strategy}" if strategy != "single" else ""  # single: the default
        tags = {"task": "socrates", "strategy": strategy}
        if tagged:
            tags["overrides"] = (f"task=socrates{chosen} ++trainer.learning_rate={lr} "
                                 f"hydra.run.dir=/runs/{name} run_name={name}")
        run_id = client.create_run(exp_id, run_name=name, tags=tags).info.run_id
        params = {**_params(name, lr, "4", "None"), **ENGINE_PARAMS[strategy],
                  "finetune.target_modules": LONG_MODULES if strategy == "zero3" else "['q']"}
        metrics = {} if obj is None else {"objective": obj, "test/wasserstein": obj,
                                          "test/accuracy": 0.5}
        _log(client, run_id, params=params, metrics=metrics)
        if status != "RUNNING":
            client.set_terminated(run_id, status)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    import mlflow

    root = tmp_path_factory.mktemp("compare_store")
    uri = f"sqlite:///{root}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    relext = client.create_experiment("relext", artifact_location=(root / "art").as_uri())
    socrates = client.create_experiment("socrates", artifact_location=(root / "art2").as_uri())
    client.create_experiment("empty", artifact_location=(root / "art3").as_uri())
    parents = _fill_relext(client, relext)
    _fill_socrates(client, socrates)
    for name, tagged in (("engines", True), ("engines-old", False)):
        exp_id = client.create_experiment(name, artifact_location=(root / name).as_uri())
        _fill_engines(client, exp_id, tagged)
    return {"uri": uri, "parents": parents}


def table_cells(stdout: str) -> list[list[str]]:
    """The printed table's body rows, cell by cell (rows start with a rank)."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in stdout.splitlines()]
    return [r for r in rows if r and r[0].isdigit()]


def table_width(stdout: str) -> int:
    """The widest line of the printed table (title and borders included)."""
    return max(len(line) for line in stdout.splitlines() if not line.startswith(
        ("wrote ", "skipped ", "best: ")))


def table_header(stdout: str) -> list[str]:
    return next([c.strip() for c in line.split("┃")[1:-1]] for line in stdout.splitlines()
                if line.startswith("┃"))


def compare(store: dict, tmp_path: Path, capsys, *args: str) -> str:
    main(["--tracking-uri", store["uri"], "--out", str(tmp_path / "out"), *args])
    return capsys.readouterr().out


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG


@pytest.mark.parametrize(("metric", "task", "lower"), [
    ("test/wasserstein", None, True), ("val/loss", None, True), ("test/mae", None, True),
    ("test/unparseable_rate", None, True), ("val/micro_f1", None, False),
    ("objective", "socrates", True), ("objective", "relext", False),
    ("cv/objective/mean", "socrates", True), ("cv/val/micro_f1/mean", "relext", False),
])
def test_direction_of_metrics(metric, task, lower):
    assert lower_is_better(metric, task) is lower


def test_differing_params_leave_out_noise_and_count_missing_keys():
    params = [_params("a", "0.1", "8", "0"), _params("b", "0.1", "8", "1"),
              {**_params("c", "0.1", "8", "1"), "extra.key": "x"}]
    assert differing_params(params) == ["extra.key", "fold"]


def test_rank_order_puts_missing_last_and_keeps_ties_in_order():
    values = [0.3, None, 0.1, math.nan, 0.3, 0.5]
    assert rank_order(values, lower=True) == [2, 0, 4, 5, 1, 3]
    assert rank_order(values, lower=False) == [5, 0, 4, 2, 1, 3]


def test_runs_are_ranked_with_only_differing_params(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--metric", "objective",
                  "test/micro_f1", "--include-failed")
    assert table_header(out) == ["rank", "run", "status", "objective", "test/micro_f1",
                                 *VARYING]
    rows = table_cells(out)
    assert [r[1] for r in rows] == RELEXT_ORDER
    assert rows[0] == ["1", "s2-f0", "FINISHED", "0.6000", "0.5500", "0", "0.01", "8"]
    assert rows[4] == ["5", "single", "FINISHED", "0.3500", "0.3000", "None", "0.001", "16"]
    assert rows[-1] == ["7", "s1-b-f1", "FAILED", "-", "-", "1", "0.0001", "16"]
    assert "best: s2-f0 objective=0.6000 (fold=0, trainer.learning_rate=0.01, " \
           "trainer.per_device_train_batch_size=8)" in out

    csv = pd.read_csv(tmp_path / "out" / "compare.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["rank", "run", "run_id", "status", "objective",
                                 "test/micro_f1", *VARYING]
    assert csv["run"].tolist() == RELEXT_ORDER
    assert csv[LR].tolist() == ["0.01", "0.001", "0.01", "0.001", "0.001", "0.0001", "0.0001"]
    assert [float(v) if v else None for v in csv["objective"]] == \
        [0.6, 0.5, 0.45, 0.4, 0.35, 0.3, None]
    for name in ("metric_vs_learning_rate", "metric_vs_batch_size", "fold_spread",
                 "loss_curves"):
        assert_png(tmp_path / "out" / f"{name}.png")
        assert f"{name}.png" in out


def test_top_limits_printed_rows_not_the_csv(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--top", "2",
                  "--include-failed")
    assert [r[1] for r in table_cells(out)] == RELEXT_ORDER[:2]
    assert "top 2 shown" in out
    assert len(pd.read_csv(tmp_path / "out" / "compare.csv")) == 7


def test_lower_is_better_reverses_the_ranking_but_keeps_missing_last(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--lower-is-better",
                  "--include-failed")
    assert [r[1] for r in table_cells(out)] == \
        ["s1-b-f0", "single", "s1-a-f0", "s2-f1", "s1-a-f1", "s2-f0", "s1-b-f1"]


@pytest.mark.parametrize("by_parent_id", [False, True])
def test_sweep_lists_only_its_jobs(store, tmp_path, capsys, by_parent_id):
    sweep = store["parents"][S1] if by_parent_id else S1
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--sweep", sweep,
                  "--include-failed")
    rows = table_cells(out)
    assert [r[1] for r in rows] == ["s1-a-f1", "s1-a-f0", "s1-b-f0", "s1-b-f1"]
    # fold, learning rate and batch size all differ inside this sweep; nothing else does
    # (after the default metrics: objective, which copies val/micro_f1, and test/micro_f1).
    assert table_header(out)[3:] == ["objective", "test/micro_f1", *VARYING]


def test_sweeps_ranked_by_mean_over_finished_jobs(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--by", "sweeps")
    assert table_header(out) == ["rank", "sweep", "status", "jobs", "objective", LR, BS,
                                 "overrides"]
    rows = table_cells(out)
    # S2: mean(0.60, 0.45) = 0.525, sample std = 0.15/sqrt(2) = 0.10607.
    # S1: the failed job has no objective: mean(0.40, 0.50, 0.30) = 0.4, std = 0.1.
    assert rows == [
        ["1", f"sweep {S2}", "FINISHED", "2 (2 FINISHED)", "0.5250 ± 0.1061", "0.01", "8",
         "fold=0,1"],
        ["2", f"sweep {S1}", "FINISHED", "4 (3 FINISHED, 1 FAILED)", "0.4000 ± 0.1000",
         "(varies)", "(varies)", "lr=0.001,0.0001"],
    ]
    assert f"best: sweep {S2} objective=0.5250 ± 0.1061 ({LR}=0.01, {BS}=8)" in out
    csv = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert csv["objective mean"].tolist() == pytest.approx([0.525, 0.4])
    assert csv["objective std"].tolist() == pytest.approx([0.15 / math.sqrt(2), 0.1])
    assert csv["objective n"].tolist() == [2, 3]
    assert_png(tmp_path / "out" / "fold_spread.png")


def test_sweep_aggregates_leave_out_unfinished_jobs(store, tmp_path, capsys):
    # With the failed job's 0.9, S1 would be mean(0.4, 0.5, 0.3, 0.9) = 0.525 and rank first.
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--by", "sweeps",
                  "--metric", "val/micro_f1")
    assert [(r[1], r[3], r[4]) for r in table_cells(out)] == [
        (f"sweep {S2}", "2 (2 FINISHED)", "0.5250 ± 0.1061"),
        (f"sweep {S1}", "4 (3 FINISHED, 1 FAILED)", "0.4000 ± 0.1000")]


def test_sweeps_ranked_by_a_metric_of_the_parent(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--by", "sweeps",
                  "--metric", "oof/micro_f1")
    assert [(r[1], r[4]) for r in table_cells(out)] == \
        [(f"sweep {S2}", "0.5000"), (f"sweep {S1}", "0.4200")]


def test_socrates_objective_is_lower_is_better_and_empty_plots_are_skipped(
        store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "socrates")
    rows = table_cells(out)
    assert [r[1] for r in rows] == ["soc-lr1e-4", "soc-lr1e-3", "soc-lr1e-5"]
    assert table_header(out) == ["rank", "run", "status", "objective", LR]
    assert "lower is better" in out
    assert "best: soc-lr1e-4 objective=0.1000 (trainer.learning_rate=0.0001)" in out
    assert_png(tmp_path / "out" / "metric_vs_learning_rate.png")
    for skipped in ("metric_vs_batch_size", "fold_spread", "loss_curves"):
        assert not (tmp_path / "out" / f"{skipped}.png").exists()
        assert f"skipped {skipped}.png" in out


def test_default_store_and_experiments(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.chdir(tmp_path)
    main(["--loss-curves", "0"])
    out = capsys.readouterr().out
    for experiment in ("socrates", "relext"):
        assert (tmp_path / "compare" / experiment / "compare.csv").is_file()
    assert "best: soc-lr1e-4 objective=0.1000" in out
    assert "best: s2-f0 objective=0.6000" in out


def test_default_experiments_skip_one_without_the_metric(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.chdir(tmp_path)
    main(["--metric", "test/wasserstein"])
    captured = capsys.readouterr()
    assert "best: soc-lr1e-4 test/wasserstein=0.1000" in captured.out
    assert "note: skipped" in captured.err and "'relext'" in captured.err
    assert not (tmp_path / "compare" / "relext").exists()


# --- the default table: user-set params, no failed runs; --wide and the CSV: everything ---------


def flat(stdout: str) -> str:
    """The output with rich's line wrapping (of a title wider than its table) undone."""
    return " ".join(stdout.split())


def test_default_table_shows_only_the_differing_keys_the_user_set(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "engines")
    # Every strategy.deepspeed.* key differs between these runs, and so do the output paths,
    # the run names and the long target-module list; only the strategy is both chosen on the
    # command line and different (the learning rate, also set, is the same for all).
    assert table_header(out) == ["rank", "run", "status", "objective", "test/accuracy",
                                 "strategy"]
    assert table_cells(out) == [
        ["1", "e-zero2", "FINISHED", "0.2000", "0.5000", "zero2"],
        ["2", "e-zero3", "FINISHED", "0.2500", "0.5000", "zero3"],
        ["3", "e-running", "RUNNING", "0.2800", "0.5000", "zero3"],
        ["4", "e-single", "FINISHED", "0.3000", "0.5000", "single"],  # the default: its tag
    ]
    assert "strategy.deepspeed" not in out and "hydra.run.dir" not in out
    assert table_width(out) < 160
    assert "by objective (= test/wasserstein, lower is better, 2 failed or killed left out " \
           "(--include-failed))" in flat(out)
    assert "best: e-zero2 objective=0.2000 (strategy=zero2)" in out
    # compare.csv has the listed runs with every differing param, engine internals included.
    csv = pd.read_csv(tmp_path / "out" / "compare.csv", dtype=str, keep_default_na=False)
    assert csv["run"].tolist() == ["e-zero2", "e-zero3", "e-running", "e-single"]
    assert csv["strategy"].tolist() == ["zero2", "zero3", "zero3", "single"]
    assert csv[f"{DS}zero_optimization.stage"].tolist() == ["2", "3", "3", ""]
    assert csv["finetune.target_modules"].tolist()[1] == LONG_MODULES


def test_runs_without_overrides_fall_back_to_differing_params_minus_internals(
        store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "engines-old")
    # Left out: strategy.deepspeed.* (derived from the strategy), the long module list, paths.
    assert table_header(out) == ["rank", "run", "status", "objective", "test/accuracy",
                                 "strategy.name"]
    assert [r[-1] for r in table_cells(out)] == ["zero2", "zero3", "zero3", "single"]
    assert table_width(out) < 160
    out = compare(store, tmp_path, capsys, "--experiment", "engines-old", "--include-failed")
    assert table_header(out)[5:] == ["strategy.name", LR]


def test_failed_and_killed_runs_are_listed_only_when_asked(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "engines")
    assert [r[1] for r in table_cells(out)] == ["e-zero2", "e-zero3", "e-running", "e-single"]
    assert len(pd.read_csv(tmp_path / "out" / "compare.csv")) == 4
    out = compare(store, tmp_path, capsys, "--experiment", "engines", "--include-failed")
    # The failed run's learning rate differs from the others': a column now.
    assert table_header(out) == ["rank", "run", "status", "objective", "test/accuracy",
                                 "strategy", LR]
    rows = table_cells(out)
    assert [r[1] for r in rows] == ["e-zero2", "e-zero3", "e-running", "e-single", "e-failed",
                                    "e-killed"]
    assert rows[4] == ["5", "e-failed", "FAILED", "-", "-", "zero2", "0.01"]
    assert rows[5][2] == "KILLED"
    assert "left out" not in out
    assert len(pd.read_csv(tmp_path / "out" / "compare.csv")) == 6
    assert table_cells(compare(store, tmp_path, capsys, "--experiment", "engines",
                               "--all")) == rows


def test_wide_prints_every_differing_param_in_full(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "engines", "--wide")
    header = table_header(out)
    engine_keys = {k for params in ENGINE_PARAMS.values() for k in params}
    assert engine_keys <= set(header)
    assert {"strategy", "finetune.target_modules"} <= set(header)
    assert not any(k.startswith(("paths.", "hydra.", "tracking.")) or k == "run_name"
                   for k in header)
    assert LONG_MODULES in out  # not shortened
    assert table_width(out) > 160  # what the default table used to be


def test_runs_with_and_without_overrides_tag_together():
    from types import SimpleNamespace

    def run(params, tags):
        return SimpleNamespace(data=SimpleNamespace(params=params, tags=tags))

    tagged = run({**ENGINE_PARAMS["zero2"], LR: "0.001"}, {"overrides": "strategy=zero2"})
    old = run({**ENGINE_PARAMS["single"], LR: "0.01"}, {"strategy": "single"})
    columns = param_columns([tagged, old])
    # The old run's learning rate differs (a param outside the engine); strategy.name is the
    # strategy choice again, and the engine keys are derived from it.
    assert columns.shown == ["strategy", LR]
    assert set(ENGINE_PARAMS["zero2"]) | {"strategy.deepspeed"} <= set(columns.wide)


def test_overrides_tag_is_parsed_into_keys_and_values():
    assert parse_overrides("task=socrates strategy=zero2 ++trainer.learning_rate=1e-3 "
                           "+experiment=big tags=[a, b] run_name='my run' ~trainer.foo") == {
        "task": "socrates", "strategy": "zero2", "trainer.learning_rate": "1e-3",
        "experiment": "big", "tags": "[a, b]", "run_name": "'my run'",
        "trainer.foo": "(deleted)"}
    assert parse_overrides("") == {}


def test_long_cells_are_shortened_but_stay_apart():
    assert shorten("abcdefghij", 5) == "ab…ij"
    assert shorten("short", 5) == "short"
    assert shorten_column(["a" * 30, "b" * 30], 10) == ["aaaaa…aaaa", "bbbbb…bbbb"]
    # Cut in the middle, these two would read the same: wider then, as far as needed.
    names = [f"relext-lora-lr{lr}-fold0-with-a-long-suffix" for lr in ("0.001", "0.002")]
    short = shorten_column(names, 20)
    assert len(set(short)) == 2 and all(len(n) <= 40 for n in short)


# --- plots: nothing cut off, nothing on top of each other ----------------------------------------


def drawn_past_edges(fig) -> list[str]:
    """Which edges of ``fig`` (after its constrained layout ran) something drawn reaches past:
    what the image would cut off. The bounding box is the one of what is drawn (tick labels
    outside the axis range exist but are not drawn)."""
    fig.canvas.draw()
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())
    frame = fig.bbox_inches
    eps = 0.01  # inches
    return [edge for edge, past in (("left", drawn.x0 < frame.x0 - eps),
                                    ("bottom", drawn.y0 < frame.y0 - eps),
                                    ("right", drawn.x1 > frame.x1 + eps),
                                    ("top", drawn.y1 > frame.y1 + eps)) if past]


def plot_report(leaves: pd.DataFrame, shown: list[str]) -> Report:
    return Report("relext", "runs", ["objective"], False, leaves, shown, shown, leaves, shown)


def test_fold_spread_labels_stay_inside_the_image():
    shown = ["finetune.target_modules", "fold", "strategy.name", LR, BS]
    rows = [{"objective": 0.5 + 0.05 * g + 0.01 * fold, "_fold": str(fold), "_parent": None,
             "fold": str(fold), "finetune.target_modules": f"{LONG_MODULES}{g}",
             "strategy.name": f"zero{g}", LR: "0.0001", BS: "16"}
            for g in range(3) for fold in range(3)]
    sweep = "sweep relext/fold=0,1,2__trainer.learning_rate=0.0001__model=qwen2.5-14b-instruct"
    rows += [{"objective": 0.4 + 0.01 * fold, "_fold": str(fold), "_parent": sweep}
             for fold in range(3)]
    fig = fold_spread_figure(plot_report(pd.DataFrame(rows), shown))
    assert drawn_past_edges(fig) == []
    labels = [t for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert len(labels) == 4
    assert "strategy.name=zero2" in labels[0].get_text()  # best group on top
    assert labels[-1].get_text().startswith("sweep relext/fold=0,1,2\n")
    boxes = [t.get_window_extent() for t in labels]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))


def test_metric_vs_learning_rate_keeps_ticks_apart_and_the_legend_off_the_data():
    lrs = [1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4]
    leaves = pd.DataFrame([{"objective": 0.5 + 0.01 * i + 0.001 * b, "_lr": lr,
                            "_batch": float(b)}
                           for i, lr in enumerate(lrs) for b in (1, 2, 4, 8, 16, 32)])
    fig = metric_vs_figure(plot_report(leaves, []), "_lr", "_batch", "learning rate",
                           "batch size", 10)
    assert drawn_past_edges(fig) == []
    ax = fig.axes[0]
    ticks = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
    assert len(ticks) == len(lrs)
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(ticks))
    # Six series: the legend sits beside the axes, below the title.
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1
    assert not legend.overlaps(ax.title.get_window_extent())


def test_fold_groups_by_sweep_or_by_differing_params():
    leaves = pd.DataFrame({
        "objective": [0.4, 0.5, 0.6, 0.2, 0.3, 0.9, math.nan],
        "_fold": ["0", "1", "0", "0", "1", None, "1"],
        "_parent": ["sweep A", "sweep A", "sweep B", None, None, None, "sweep B"],
        LR: ["1", "1", "2", "3", "3", "3", "2"],
        "fold": ["0", "1", "0", "0", "1", "None", "1"],
    })
    groups = fold_groups(leaves, "objective", ["fold", LR], lower=False)
    assert groups == {"sweep B": [0.6], "sweep A": [0.4, 0.5], f"{LR}=3": [0.2, 0.3]}
    assert list(fold_groups(leaves, "objective", ["fold", LR], lower=True)) == \
        [f"{LR}=3", "sweep A", "sweep B"]


@pytest.mark.parametrize(("args", "message"), [
    (["--experiment", "nope"], "no MLflow experiment named 'nope'"),
    (["--experiment", "relext", "--sweep", "relext/nope"], "no sweep 'relext/nope'"),
    (["--experiment", "relext", "--metric", "val/typo"], "logged metric 'val/typo'"),
    (["--experiment", "relext", "--filter", "params.seed = "], "--filter"),
    (["--experiment", "relext", "--filter", "params.seed = '7'"], "no runs in experiment"),
    (["--experiment", "empty"], "no runs in experiment 'empty'"),
    (["--experiment", "socrates", "--by", "sweeps"], "no sweep parent runs"),
    (["--experiment", "engines", "--filter", "attributes.status = 'FAILED'"],
     "all 1 runs in experiment 'engines', filter \"attributes.status = 'FAILED'\" failed or "
     "were killed; pass --include-failed"),
])
def test_user_mistakes_are_one_line_and_exit_2(store, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        compare(store, tmp_path, capsys, *args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("uri", ["missing.db", "not-an-mlflow.db"])
def test_a_missing_or_foreign_store_is_not_created(tmp_path, capsys, uri):
    db = tmp_path / uri
    if uri.startswith("not"):
        db.write_text("hello")
    with pytest.raises(SystemExit) as exc:
        main(["--tracking-uri", f"sqlite:///{db}"])
    assert exc.value.code == 2
    assert "--tracking-uri" in capsys.readouterr().err
    assert db.exists() == uri.startswith("not")


def test_command_line_run(store, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "socio_re.cli.compare", "--experiment", "relext",
         "--tracking-uri", store["uri"], "--metric", "objective", "test/micro_f1", "--top", "3",
         "--out", str(tmp_path / "cli"), "--all"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r[1] for r in table_cells(proc.stdout)] == RELEXT_ORDER[:3]
    assert "best: s2-f0 objective=0.6000" in proc.stdout
    assert_png(tmp_path / "cli" / "loss_curves.png")
    assert len(pd.read_csv(tmp_path / "cli" / "compare.csv")) == 7


def test_help_imports_neither_torch_nor_transformers():
    code = ("import runpy, sys\nsys.argv = ['compare', '--help']\n"
            "try:\n    runpy.run_module('socio_re.cli.compare', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'transformers', 'mlflow') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m socio_re.cli.compare" in proc.stdout
    assert proc.stdout.strip().endswith("[]")
