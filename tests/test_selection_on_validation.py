"""Selection reads validation data only: every task's objective is a validation metric, and a
sweep whose best run by validation differs from its best by test picks the validation winner
(the grid ranking printed at the end, and the ranking of the compare command)."""

from __future__ import annotations

from pathlib import Path

from socio_re.sweeps.report import print_sweep_result
from socio_re.sweeps.state import JobRecord, write_done
from socio_re.tasks.relext.run import selection_objective as relext_objective
from socio_re.tasks.socrates.run import selection_objective as socrates_objective
from socio_re.tracking.compare import lower_is_better, rank_order

# Learning rate → (validation metrics, test metrics): the best by test is not the best by val.
SOCRATES_RUNS = {
    "0.001": ({"val/loss": 1.30}, {"test/wasserstein": 0.20}),  # best test, worst val
    "0.003": ({"val/loss": 1.10}, {"test/wasserstein": 0.26}),  # best val
    "0.01": ({"val/loss": 1.20}, {"test/wasserstein": 0.24}),
}


def test_objectives_are_validation_metrics_whatever_the_test_metrics_say():
    assert socrates_objective({"val/loss": 1.1, "test/wasserstein": 0.2}) == 1.1
    assert socrates_objective({"val/loss": 1.1, "val/wasserstein": 0.3,
                               "test/wasserstein": 0.2}) == 0.3
    assert socrates_objective({"test/wasserstein": 0.2}) is None  # no validation: no pick
    assert relext_objective({"val/micro_f1": 0.4, "test/micro_f1": 0.9}) == 0.4
    assert relext_objective({"test/micro_f1": 0.9}) is None  # fold=all has no validation fold


def _metrics(val: dict, test: dict) -> dict:
    metrics = {**val, **test}
    return {**metrics, "objective": socrates_objective(metrics)}


def test_an_lr_sweep_picks_its_validation_winner(tmp_path: Path, capsys):
    records = []
    for num, (lr, (val, test)) in enumerate(SOCRATES_RUNS.items()):
        directory = tmp_path / f"trainer.learning_rate={lr}"
        directory.mkdir()
        write_done(directory, _metrics(val, test), "none")
        records.append(JobRecord(num, directory.name, f"trainer.learning_rate={lr}",
                                 str(directory), status="completed"))
    print_sweep_result(records, "socrates")
    ranked = [line for line in capsys.readouterr().out.splitlines()
              if "trainer.learning_rate=" in line]
    assert "trainer.learning_rate=0.003" in ranked[0]  # best validation loss, not best test
    assert "trainer.learning_rate=0.001" in ranked[-1]

    objectives = [_metrics(v, t)["objective"] for v, t in SOCRATES_RUNS.values()]
    order = rank_order(objectives, lower_is_better("objective", "socrates"))
    assert list(SOCRATES_RUNS)[order[0]] == "0.003"
