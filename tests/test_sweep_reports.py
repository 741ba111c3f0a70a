"""What a sweep prints at its end, from fake job directories (no training): the
cross-validation table of a fold sweep, the ranking of a grid, jobs a Ctrl-C stopped before they
started; and, on a real local MLflow store, the runs an interrupted sweep leaves KILLED."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pandas as pd
import pytest

from socio_re.sweeps.local import stop_after_ctrl_c
from socio_re.sweeps.report import (
    fold_groups,
    print_sweep_result,
    print_sweep_summary,
    status_counts,
)
from socio_re.sweeps.state import JobRecord, write_done

FOLD_METRICS = {
    0: {"val/micro_f1": 0.61, "val/macro_f1": 0.42, "test/micro_f1": 0.58, "objective": 0.61},
    1: {"val/micro_f1": 0.55, "val/macro_f1": 0.40, "test/micro_f1": 0.57, "objective": 0.55},
    2: {"val/micro_f1": 0.67, "val/macro_f1": 0.47, "test/micro_f1": 0.60, "objective": 0.67},
}


def job(tmp_path: Path, num: int, overrides: str, metrics: dict | None = None,
        status: str = "completed") -> JobRecord:
    """A job record and its directory, with a done marker when ``metrics`` are given. The
    record's own metrics stay empty: the report must read them from the done marker."""
    name = overrides.replace(" ", "__")
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    if metrics is not None:
        write_done(directory, metrics, "none")
    return JobRecord(num, name, overrides, str(directory), status=status)


def fold_sweep(tmp_path: Path) -> list[JobRecord]:
    """Folds 0-2 finished (fold 1 skipped: done in an earlier run), fold 3 failed."""
    records = [job(tmp_path, f, f"task=relext fold={f}", m,
                   "skipped" if f == 1 else "completed") for f, m in FOLD_METRICS.items()]
    failed = job(tmp_path, 3, "task=relext fold=3", status="failed")
    failed.error, failed.log = "exit 1: boom", str(tmp_path / "3_log.err")
    return [*records, failed]


def line_with(text: str, out: str) -> str:
    lines = [line for line in out.splitlines() if text in line]
    assert len(lines) == 1, f"{text!r} in {len(lines)} lines of:\n{out}"
    return lines[0]


def cells(line: str) -> list[str]:
    """The cells of a printed table row (rich draws ``│`` between them, ``┃`` in the header)."""
    return [c.strip() for c in re.split("[│┃]", line.strip().strip("│┃"))]


def test_fold_sweep_prints_each_fold_the_mean_and_sd_and_the_pooled_scores(tmp_path, capsys):
    aggregate = {"jobs": 3, "metrics": {"cv/objective/mean": 0.61, "oof/micro_f1": 0.6123,
                                        "oof/macro_f1": 0.4321, "oof/folds": 3.0}}
    print_sweep_result(fold_sweep(tmp_path), "relext", aggregate)
    out = capsys.readouterr().out

    assert "cross-validation: 3 of 4 folds finished" in out
    header = cells(line_with("val/micro_f1", out))
    assert header == ["fold", "val/micro_f1", "val/macro_f1", "test/micro_f1", "objective"]
    for fold, m in FOLD_METRICS.items():
        row = cells(next(line for line in out.splitlines() if line.startswith(f"│ {fold} ")))
        assert row == [str(fold), *(f"{m[c]:.4f}" for c in header[1:])]
    assert not any(line.startswith("│ 3 ") for line in out.splitlines())  # the failed fold

    mean_row = cells(line_with("mean ± sd", out))
    for column, cell in zip(header[1:], mean_row[1:], strict=True):
        values = [m[column] for m in FOLD_METRICS.values()]
        assert cell == f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"
    # The MLflow aggregate's pooled out-of-fold scores, under the validation columns.
    assert cells(line_with("│ pooled out-of-fold", out))[1:] == ["0.6123", "0.4321", "-", "-"]
    assert "(3 folds)" in out


def test_without_mlflow_the_pooled_scores_come_from_the_fold_directories(tmp_path, capsys):
    """tracking=none: no aggregate; the folds' val_predictions.csv are scored together. Pooled:
    2 true positives, 1 positive predicted for a NOT pair, 1 missed: micro P = R = F1 = 2/3."""
    from socio_re.tasks.relext.data.documents import LABELS

    negative, a, b = LABELS[0], LABELS[1], LABELS[2]
    records = fold_sweep(tmp_path)[:2]
    predictions = {0: ([a, negative], [a, a]), 1: ([b, b], [b, negative])}
    for rec, (gold, pred) in zip(records, predictions.values(), strict=True):
        pd.DataFrame({"gold_label": gold, "pred_label": pred}).to_csv(
            Path(rec.directory) / "val_predictions.csv", index=False)
    print_sweep_result(records, "relext", None)
    out = capsys.readouterr().out
    assert cells(line_with("│ pooled out-of-fold", out))[1] == f"{2 / 3:.4f}"
    assert "(2 folds)" in out


def test_a_single_finished_fold_has_no_spread(tmp_path, capsys):
    records = fold_sweep(tmp_path)
    for rec in records[1:]:
        rec.status = "failed"
    print_sweep_result(records, "socrates")
    assert cells(line_with("mean ± sd", capsys.readouterr().out))[1] == "0.6100"


def test_fold_and_grid_sweep_prints_one_table_per_setting(tmp_path, capsys):
    records = [job(tmp_path, i, f"task=relext fold={f} trainer.learning_rate={lr}",
                   {"val/micro_f1": 0.5 + i / 100, "objective": 0.5 + i / 100})
               for i, (lr, f) in enumerate((lr, f) for lr in ("0.001", "0.003") for f in (0, 1))]
    groups = fold_groups(records)
    assert {k: [r.num for r in v] for k, v in groups.items()} == {
        "trainer.learning_rate=0.001": [0, 1], "trainer.learning_rate=0.003": [2, 3]}
    print_sweep_result(records, "relext", {"metrics": {"oof/micro_f1": 0.99}})
    out = capsys.readouterr().out
    assert "cross-validation trainer.learning_rate=0.001: 2 of 2 folds finished" in out
    assert "cross-validation trainer.learning_rate=0.003: 2 of 2 folds finished" in out
    assert "0.9900" not in out  # the aggregate pools both settings' folds: not shown


def grid(tmp_path: Path, task: str, objectives: dict[str, float]) -> list[JobRecord]:
    records = [job(tmp_path, i, f"task={task} trainer.learning_rate={lr}",
                   {"test/wasserstein": obj, "objective": obj})
               for i, (lr, obj) in enumerate(objectives.items())]
    records.append(job(tmp_path, len(records), f"task={task} trainer.learning_rate=1",
                       status="failed"))
    return records


def ranked_names(out: str) -> list[str]:
    rows = [cells(line) for line in out.splitlines() if "trainer.learning_rate=" in line]
    assert [row[0] for row in rows] == [str(i) for i in range(1, len(rows) + 1)]
    return [row[2].rsplit("=", 1)[-1] for row in rows]


@pytest.mark.parametrize(("task", "direction", "order"), [
    ("socrates", "lower is better", ["0.003", "0.01", "0.001"]),
    ("relext", "higher is better", ["0.001", "0.01", "0.003"])])
def test_a_grid_ranks_its_finished_jobs_by_objective(tmp_path, capsys, task, direction, order):
    print_sweep_result(grid(tmp_path, task, {"0.001": 0.3, "0.003": 0.1, "0.01": 0.2}), task)
    out = capsys.readouterr().out
    assert (f"jobs ranked by objective, a validation metric ({direction} for {task}; test "
            "metrics are reported, never ranked on): 3 of 4 finished") in out
    assert "cross-validation" not in out
    assert ranked_names(out) == order


def test_a_sweep_with_the_fold_fixed_is_a_grid(tmp_path, capsys):
    records = [job(tmp_path, i, f"task=relext fold=0 trainer.learning_rate={lr}",
                   {"val/micro_f1": v, "objective": v}) for i, (lr, v) in
               enumerate((("0.001", 0.4), ("0.003", 0.5)))]
    assert fold_groups(records) == {}
    print_sweep_result(records, "relext")
    assert ranked_names(capsys.readouterr().out) == ["0.003", "0.001"]


class FakeLocalJob:
    """What stop_after_ctrl_c uses of a submitit local job."""

    def __init__(self, stderr: Path):
        self.paths = type("Paths", (), {"stderr": stderr})()
        self.cancelled = False

    def cancel(self, check: bool = True) -> None:
        self.cancelled = True

    def done(self) -> bool:
        return self.cancelled


def test_ctrl_c_cancels_running_jobs_and_says_which_never_started(tmp_path, capsys):
    finished = job(tmp_path, 0, "fold=0", FOLD_METRICS[0])
    running = job(tmp_path, 1, "fold=1", status="pending")
    queued = job(tmp_path, 2, "fold=2", status="pending")
    local = FakeLocalJob(tmp_path / ".submitit" / "1_0_log.err")
    stop_after_ctrl_c([(local, running, [])], [finished, running, queued])

    assert local.cancelled
    assert (running.status, running.log) == ("interrupted", str(local.paths.stderr))
    assert (queued.status, queued.log) == ("not started", "")
    assert finished.status == "completed"
    assert status_counts([finished, running, queued]) == "1 completed, 1 interrupted, " \
        "1 not started"

    print_sweep_summary("relext/fold=0,1,2", tmp_path, None, None, [finished, running, queued])
    out = capsys.readouterr().out
    assert not re.search(r"log: \.(\s|$)", out) and "(log: )" not in out
    assert "log: .submitit/1_0_log.err" in out  # the cancelled job still points to its log
    assert line_with("job #2 fold=2 not started: ", out).endswith("before this job started")
    assert "not started" in line_with("│ 2 ", out)


def test_interrupted_sweep_marks_its_running_runs_killed(tmp_path):
    import mlflow

    from socio_re.sweeps.parent import PARENT_TAG, mark_interrupted

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("relext")
    sweep_id = "relext/fold=0,1,2"

    def sweep_parent(sweep: str) -> str:
        return client.create_run(exp, run_name=f"sweep {sweep}", tags={
            PARENT_TAG: "true", "sweep_id": sweep}).info.run_id

    def child(parent: str, sweep: str, num: int) -> str:
        # Tagged as socio_re.sweeps.tags.sweep_tags tags a sweep job's run.
        return client.create_run(exp, run_name=f"fold={num}", tags={
            "sweep_id": sweep, "mlflow.parentRunId": parent, "job_num": str(num),
            "task": "relext", "fold": str(num)}).info.run_id

    parent = sweep_parent(sweep_id)
    running = [child(parent, sweep_id, 1), child(parent, sweep_id, 2)]
    finished = child(parent, sweep_id, 0)
    client.set_terminated(finished, status="FINISHED")
    other_parent = sweep_parent("relext/other")
    other = child(other_parent, "relext/other", 0)

    assert sorted(mark_interrupted(uri, parent, sweep_id)) == sorted(running)

    def status(run_id: str) -> str:
        return client.get_run(run_id).info.status

    assert [status(r) for r in running] == ["KILLED", "KILLED"]
    assert status(parent) == "KILLED" and status(finished) == "FINISHED"
    assert status(other) == "RUNNING" and status(other_parent) == "RUNNING"

    # SLURM: the jobs keep running on the cluster and close their own runs; only the parent.
    assert mark_interrupted(uri, other_parent, "relext/other", children=False) == []
    assert status(other_parent) == "KILLED" and status(other) == "RUNNING"
