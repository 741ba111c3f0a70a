"""Sweeps through a real Slurm scheduler: the one-node cluster of scripts/local_slurm.sh
(tests/slurm_cluster.py starts it once per session), jobs submitted with ``sbatch`` by the
``hydra/launcher=slurm`` preset, on a cluster without accounting."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import ROOT, run_train
from slurm_cluster import slurm_cluster  # noqa: F401  (the fixture)

from socio_re.sweeps.naming import sweep_name

# The cheapest real sweep: two smoke jobs, one core and 2 GB each, no GPU.
SWEEP = ["-m", "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "debug=smoke",
         "task.eval.max_rows=4", "task.eval.compare_base=false", "seed=1,2"]


@pytest.mark.slow
def test_a_two_job_sweep_runs_through_sbatch(slurm_cluster, tmp_path):  # noqa: F811
    import mlflow

    # The jobs run from the submitting directory and the preset's setup sources
    # .venv/bin/activate there: give them this checkout's environment.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    uri = os.environ["MLFLOW_TRACKING_URI"]  # this test's sqlite store (conftest.py)
    out = run_train(SWEEP, tmp_path, env={**slurm_cluster["env"], "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    sweep_dir = tmp_path / "multirun" / "socrates" / sweep_name(None, SWEEP[1:])
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    jobs = {job["name"]: job for job in summary["jobs"]}
    assert sorted(jobs) == ["seed=1", "seed=2"]
    ids = []
    for name, job in jobs.items():
        assert job["status"] == "completed", job
        assert (sweep_dir / name / "done.json").exists()
        # One array: <array id>_<index>; the log is submitit's for that id.
        assert re.fullmatch(r"\d+_[01]", job["job_id"]), job
        assert Path(job["log"]).is_file() and job["job_id"] in job["log"]
        assert f"{name}: SLURM job {job['job_id']}, log {job['log']}" in out.stdout
        ids.append(job["job_id"])
    assert len({i.split("_")[0] for i in ids}) == 1

    # No accounting on this cluster: one line says so, not one per poll.
    warnings = [line for line in out.stderr.splitlines() if "accounting" in line.lower()]
    assert len(warnings) <= 1, warnings

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("socrates").experiment_id])
    tags = [r.data.tags for r in runs]
    assert sorted(t["slurm_job_id"] for t in tags if "mlflow.parentRunId" in t) == sorted(ids)
    parent = [t for t in tags if t.get("socio_re.sweep_parent") == "true"]
    assert [t["slurm_job_ids"] for t in parent] == [",".join(sorted(ids))]
