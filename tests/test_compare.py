"""The comparison report: ranking, differing params, sweeps, plots and user errors, over a real
MLflow sqlite store filled by hand (no training), so every expected value is computed here."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from socio_re.cli.compare import main
from socio_re.tracking.compare import differing_params, fold_groups, lower_is_better, rank_order

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
        if sweep:
            tags.update({"mlflow.parentRunId": parents[sweep], "sweep_id": sweep,
                         "job_num": str(num), "overrides": f"fold={fold}"})
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
    return {"uri": uri, "parents": parents}


def table_cells(stdout: str) -> list[list[str]]:
    """The printed table's body rows, cell by cell (rows start with a rank)."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in stdout.splitlines()]
    return [r for r in rows if r and r[0].isdigit()]


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
                  "test/micro_f1")
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
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--top", "2")
    assert [r[1] for r in table_cells(out)] == RELEXT_ORDER[:2]
    assert "top 2 shown" in out
    assert len(pd.read_csv(tmp_path / "out" / "compare.csv")) == 7


def test_lower_is_better_reverses_the_ranking_but_keeps_missing_last(store, tmp_path, capsys):
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--lower-is-better")
    assert [r[1] for r in table_cells(out)] == \
        ["s1-b-f0", "single", "s1-a-f0", "s2-f1", "s1-a-f1", "s2-f0", "s1-b-f1"]


@pytest.mark.parametrize("by_parent_id", [False, True])
def test_sweep_lists_only_its_jobs(store, tmp_path, capsys, by_parent_id):
    sweep = store["parents"][S1] if by_parent_id else S1
    out = compare(store, tmp_path, capsys, "--experiment", "relext", "--sweep", sweep)
    rows = table_cells(out)
    assert [r[1] for r in rows] == ["s1-a-f1", "s1-a-f0", "s1-b-f0", "s1-b-f1"]
    # fold, learning rate and batch size all differ inside this sweep; nothing else does.
    assert table_header(out)[4:] == VARYING


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
         "--out", str(tmp_path / "cli")], cwd=ROOT, capture_output=True, text=True, timeout=120)
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
