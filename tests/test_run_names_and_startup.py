"""Runs a researcher can tell apart: default names say what ran, and a run that fails at
start-up leaves neither a run folder nor an MLflow run behind."""

from __future__ import annotations

import time

import pytest
from conftest import compose, run_train

from socio_re.config.validate import validate_config
from socio_re.tracking.run_names import default_run_name, short_override

NOON = time.mktime((2026, 12, 1, 12, 5, 0, 0, 0, -1))


def test_default_name_says_task_model_strategy_and_fold():
    rc = validate_config(compose(["task=relext", "strategy=zero2", "fold=3"]))
    assert default_run_name(rc, now=NOON) == "relext·minilm·zero2·fold=3·1201-1205"


def test_default_name_of_a_sweep_job_carries_its_own_overrides():
    rc = validate_config(compose(["task=socrates", "finetune=lora",
                                  "trainer.learning_rate=0.001"]))
    name = default_run_name(rc, ["trainer.learning_rate=0.001", "seed=2"], now=NOON)
    assert name == "socrates·tiny-causal·single·lora·learning_rate=0.001·seed=2·1201-1205"
    # A group chosen by the sweep is already in the name once.
    rc = validate_config(compose(["strategy=ddp"]))
    assert default_run_name(rc, ["strategy=ddp"], now=NOON).count("ddp") == 1


def test_default_name_of_a_single_run_carries_what_its_command_line_chose():
    rc = validate_config(compose(["task.eval.decoding=sample", "data.subset=0.5"]))
    given = ["task.eval.decoding=sample", "data.subset=0.5", "hydra.run.dir=outputs/x",
             "tracking=none", "task=socrates"]
    assert default_run_name(rc, given, now=NOON) == \
        "socrates·tiny-causal·single·decoding=sample·subset=0.5·1201-1205"
    many = [f"trainer.setting_{i}=value_{i}" for i in range(10)]
    name = default_run_name(rc, many, now=NOON)
    assert "…" in name and len(name) < 120  # cut where MLflow's table would cut it anyway


def test_short_override_keeps_the_leaf_key():
    assert short_override("+trainer.learning_rate=1e-4") == "learning_rate=1e-4"
    assert short_override("fold=2") == "fold=2"


@pytest.mark.slow
def test_a_start_up_failure_leaves_no_run_folder_and_no_tracked_run(tmp_path):
    """A hub model that cannot be reached, under a multi-process strategy: one line, exit 2,
    before any rank starts; no outputs folder and nothing in the MLflow store."""
    import mlflow

    run_dir = tmp_path / "outputs" / "run"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = run_train(["model=qwen2.5-0.5b-instruct", "strategy=ddp",
                     f"hydra.run.dir={run_dir}"], tmp_path,
                    env={"MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.strip().splitlines()[-1].startswith("error: cannot download")
    assert "Traceback" not in out.stderr and "starting 2 processes" not in out.stderr
    assert not run_dir.exists()
    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert not client.search_runs(experiments) if experiments else True
