"""The task contract: the built-in tasks meet it, a broken task is named in one line, and a new
task kept in its own package (docs/examples/sentiment_task, the one docs/adding-a-task.md walks
through) trains, sweeps, compares, evaluates and takes the debug profiles without a line of
shared code or test lists changed."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_train

from socio_re.config.task_contract import TaskSpec, check_contract, resolve_hook
from socio_re.config.tasks import TASKS, TASKS_ENV, task_names

EXAMPLE = ROOT / "docs" / "examples" / "sentiment_task"
HOOKS = ("pool_folds", "fold_ensemble", "evaluate", "predict", "source_digest", "run_tags",
         "data_splits")


@pytest.mark.parametrize("name", task_names())
def test_every_found_task_meets_the_contract(name):
    spec = TASKS[name]
    assert check_contract(spec) == []
    run = spec.run_module()
    for fn in ("run", "prepare_shared", "selection_objective"):
        assert callable(getattr(run, fn)), f"{spec.package}.run lacks {fn}"
    for hook in HOOKS:
        target = getattr(spec, f"{hook}_hook")
        if target:
            assert callable(resolve_hook(target)), target
    for corpus, target in spec.tokenizer_corpora.items():
        assert callable(resolve_hook(target)), corpus
    assert spec.direction in ("minimize", "maximize")
    assert spec.objective and spec.headline_metrics


def _package(root: Path, name: str, init: str, config: str) -> Path:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(init)
    (pkg / "config.py").write_text(config)
    return pkg


def test_what_a_task_package_lacks_is_named(tmp_path, monkeypatch):
    _package(tmp_path, "half_task", "", "from dataclasses import dataclass\n\n"
             "@dataclass\nclass TaskConfig:\n    name: str = 'half'\n\n"
             "@dataclass\nclass DataConfig:\n    name: str = 'x'\n\n"
             "def validate(rc):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = TaskSpec(name="half", package="half_task", objective="val/x", direction="maximize")
    problems = check_contract(spec)
    assert "TaskConfig needs a field 'eval'" in problems
    assert "DataConfig needs a field 'subset'" in problems
    bad = TaskSpec(name="half", package="half_task", objective="val/x",
                   direction="up")  # type: ignore[arg-type]
    assert any("direction" in p for p in check_contract(bad))


def test_a_task_package_that_cannot_be_imported_is_one_line(tmp_path):
    out = run_train(["task=socrates"], tmp_path, env={TASKS_ENV: "no_such_task_package"})
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "no_such_task_package" in out.stderr and "PYTHONPATH" in out.stderr
    assert not list(tmp_path.rglob("config.yaml"))  # no run directory left behind


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """The example task copied into a package folder of its own (not under socio_re), and
    the environment that finds it: the user's PYTHONPATH and $SOCIO_RE_TASKS."""
    root = tmp_path_factory.mktemp("sentiment")
    shutil.copytree(EXAMPLE, root / "pkgs" / "sentiment_task",
                    ignore=shutil.ignore_patterns("__pycache__"))
    work = root / "work"
    work.mkdir()
    env = {"PYTHONPATH": os.pathsep.join([str(root / "pkgs"), os.environ.get("PYTHONPATH", "")]),
           TASKS_ENV: "sentiment_task",
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    return work, env


def _module(module: str, args: list[str], cwd: Path, env: dict[str, str]):
    import subprocess

    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=1800, env={**os.environ, **env})


@pytest.mark.slow
def test_a_new_task_sweeps_compares_and_evaluates_unchanged(sentiment):
    work, env = sentiment
    sweep = run_train(["-m", "task=sentiment", "debug=smoke",
                       "trainer.learning_rate=1e-3,3e-4"], work, env=env)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "2 completed" in sweep.stdout
    # The sweep's ranking uses the task's own columns and direction.
    assert "higher is better for sentiment" in sweep.stdout
    assert "val/accuracy" in sweep.stdout and "test/accuracy" in sweep.stdout
    jobs = sorted((work / "multirun" / "sentiment").glob("*/trainer.learning_rate=*"))
    assert len(jobs) == 2
    metrics = [json.loads((j / "metrics.json").read_text()) for j in jobs]
    for m in metrics:
        assert m["objective"] == m["val/accuracy"]
        assert 0.0 <= m["test/accuracy"] <= 1.0
        assert m["train/global_step"] == 6  # debug=smoke's max_steps reached the task

    compare = _module("socio_re.cli.compare", [], work, env)
    assert compare.returncode == 0, compare.stderr[-3000:]
    assert "sentiment: 2 runs by objective (= val/accuracy, higher is better)" in compare.stdout
    best = max(metrics, key=lambda m: m["objective"])
    assert f"objective={best['objective']:.4f}" in compare.stdout

    # evaluate: the task's own command, found through its hook; the same rows, the same number.
    job, m = jobs[0], metrics[0]
    ev = _module("socio_re.cli.evaluate", [str(job), "--split", "val", "--max-rows", "24"],
                 work, env)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert json.loads((job / "eval" / "val.json").read_text())["val/accuracy"] == \
        pytest.approx(m["val/accuracy"])
    # A command the task does not have: one line, exit 2.
    pr = _module("socio_re.cli.predict", [str(job)], work, env)
    assert pr.returncode == 2
    assert "task sentiment has no predict command" in pr.stderr
    assert "Traceback" not in pr.stderr


@pytest.mark.slow
def test_the_debug_profiles_reach_a_new_task(sentiment):
    work, env = sentiment
    out = run_train(["task=sentiment", "debug=overfit", "trainer.num_train_epochs=10",
                     "tracking=none", "hydra.run.dir=outputs/overfit"], work, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    m = json.loads((work / "outputs" / "overfit" / "metrics.json").read_text())
    assert m["train/rows"] == 10  # data.subset=0.05 of 200 rows
    assert m["train/last_loss"] < m["train/first_loss"]
