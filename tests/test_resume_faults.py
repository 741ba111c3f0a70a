"""Faults around a resume never lose finished work nor block the next run:

- a checkpoint torn after its save (truncated state or weights, a missing optimizer file, an
  emptied folder) is skipped with one console line saying why, the run resumes from the one
  before and ends on the metrics of a run never interrupted;
- a run killed after its last checkpoint (during its evaluation) resumes without an extra
  training step;
- the same command in a finished run's directory reports that run instead of training again."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_train

# Cheap and deterministic: 8 steps, a checkpoint every 2 (the last two kept).
ARGS = ["debug=preempt", "tracking=none", "task.eval.compare_base=false",
        "task.eval.max_rows=8"]
TIMINGS = ("train/runtime_s", "train/samples_per_second")


def _metrics(run_dir) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIMINGS}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
    work = tmp_path_factory.mktemp("uninterrupted")
    # Module fixtures run before the per-test environment: name the session's cache.
    out = run_train([*ARGS, "trainer.stop_at_step=null", f"hydra.run.dir={work / 'run'}"], work,
                    env={"SOCIO_RE_CACHE_DIR": str(cache_dir)})
    assert out.returncode == 0, out.stderr[-3000:]
    return work / "run", _metrics(work / "run")


def _truncate(file):
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


TEARS = {
    "truncated state file": (lambda p: _truncate(p / "trainer_state.json"), "trainer_state.json"),
    "truncated safetensors": (lambda p: _truncate(p / "model.safetensors"), "model.safetensors"),
    "missing optimizer file": (lambda p: (p / "optimizer.pt").unlink(), "optimizer.pt"),
    "empty directory": (lambda p: [f.unlink() for f in p.iterdir()], "empty directory"),
}


@pytest.mark.slow
@pytest.mark.parametrize("tear", list(TEARS))
def test_a_torn_newest_checkpoint_resumes_from_the_one_before(tmp_path, uninterrupted, tear):
    # The run as a kill while it saved its last checkpoint left it: that checkpoint torn,
    # nothing written after it.
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted[0], run_dir)
    for name in ("done.json", "metrics.json", "summary.json"):
        (run_dir / name).unlink()
    damage, named = TEARS[tear]
    damage(run_dir / "checkpoints" / "checkpoint-8")

    out = run_train([*ARGS, "trainer.stop_at_step=null", f"hydra.run.dir={run_dir}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    # Said on the console (not only in run.log): which checkpoint was skipped, why, and which
    # one the run resumed from.
    skipped = [line for line in out.stderr.splitlines() if "skipping checkpoint" in line]
    assert len(skipped) == 1 and "checkpoint-8" in skipped[0] and named in skipped[0], skipped
    assert f"resuming from {run_dir / 'checkpoints' / 'checkpoint-6'}" in out.stderr
    assert _metrics(run_dir) == uninterrupted[1]


@pytest.mark.slow
def test_a_run_killed_during_its_final_evaluation_resumes_without_an_extra_step(tmp_path,
                                                                               uninterrupted):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted[0], run_dir)
    for name in ("done.json", "metrics.json", "summary.json"):  # what it had not written yet
        (run_dir / name).unlink()
    out = run_train([*ARGS, "trainer.stop_at_step=null", f"hydra.run.dir={run_dir}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    # transformers alone would take step 9 of 8 here, with other weights and metrics.
    assert not (run_dir / "checkpoints" / "checkpoint-9").exists()
    assert _metrics(run_dir) == uninterrupted[1]


def test_the_same_command_in_a_finished_run_reports_it_and_trains_nothing(tmp_path,
                                                                         uninterrupted):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted[0], run_dir)
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")
              if p.is_file() and ".hydra" not in p.parts}
    out = run_train([*ARGS, "trainer.stop_at_step=null", "trainer.learning_rate=0.5",
                     f"hydra.run.dir={run_dir}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "holds a finished run (done.json)" in out.stderr and "resume=never" in out.stderr
    assert "differs from the finished run's config in trainer.learning_rate" in out.stderr
    assert "val/loss" in out.stdout  # its metrics, shown again
    after = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")
             if p.is_file() and ".hydra" not in p.parts}
    assert after == before  # nothing trained, nothing rewritten
