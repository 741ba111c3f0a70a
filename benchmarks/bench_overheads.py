"""Where researchers wait before anything trains: ``--help``, the time to the first training
step, and the per-job overhead of a submitit-local sweep — against a plain copied-style script
doing the same training with the same libraries (benchmarks/baselines/plain_sft.py).

    python benchmarks/bench_overheads.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, compose_rc, record, row

PY = sys.executable
STEPS = 6
OURS = ["task=socrates", "tracking=none", "evaluate=false", f"trainer.max_steps={STEPS}",
        "trainer.logging_steps=1", "trainer.per_device_train_batch_size=8",
        "trainer.eval_steps=null", "trainer.save_steps=1000"]


def wall(cmd: list[str], marker: str | None = None) -> tuple[float, float | None]:
    """(total seconds, seconds until a stdout line starting with ``marker`` appeared)."""
    start = time.perf_counter()
    first = None
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker and first is None and marker in line:
            first = time.perf_counter() - start
    if proc.wait() != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - start, first


def median_wall(cmd: list[str], repeats: int = 3) -> float:
    return statistics.median(wall(cmd)[0] for _ in range(repeats))


def main() -> None:
    from socio_re.models.load import resolve_model_path
    from socio_re.tasks.socrates.data.prepared import prepare_splits

    rc = compose_rc(["task=socrates"])
    model_dir = resolve_model_path(rc.model)
    # The same rows train.py trains on: the split's parquet parts (pandas reads the directory).
    train = prepare_splits(rc.data, rc.paths.cache_dir).root / "train"
    plain = [PY, str(ROOT / "benchmarks" / "baselines" / "plain_sft.py"), model_dir, str(train),
             "--steps", str(STEPS), "--batch", "8", "--system", rc.task.system_prompt]
    rows = []
    ours_help = median_wall([PY, "train.py", "--help"])
    plain_help = median_wall([*plain[:2], "--help"])
    rows.append(row("time to --help", ours_help, "s", "plain script --help", plain_help,
                    higher_is_better=False))

    with tempfile.TemporaryDirectory() as tmp:
        ours_cmd = [PY, "train.py", *OURS]
        wall([*ours_cmd, f"hydra.run.dir={tmp}/warm"])  # data and tokenized cache built once
        ours_total, ours_first = wall([*ours_cmd, f"hydra.run.dir={tmp}/ours"], "step 1/")
        plain_total, plain_first = wall([*plain, "--out", f"{tmp}/plain"], "FIRST_STEP")
        rows.append(row(f"time to the first training step (warm cache, {STEPS}-step run)",
                        ours_first, "s", "plain script", plain_first, higher_is_better=False))
        rows.append(row(f"whole {STEPS}-step training command", ours_total, "s", "plain script",
                        plain_total, higher_is_better=False))
        sweep, _ = wall([PY, "train.py", "-m", *OURS, "seed=1,2", "sweep.max_parallel=1",
                         f"hydra.sweep.dir={tmp}/sweep"])
        per_job = (sweep - 2 * ours_total) / 2
        rows.append(row("2-job submitit-local sweep (seed=1,2, one at a time), wall", sweep, "s",
                        "two single train.py runs back to back", 2 * ours_total,
                        higher_is_better=False))
        rows.append(row("2-job submitit-local sweep against the plain script in a shell loop",
                        sweep, "s", "plain script run twice", 2 * plain_total,
                        higher_is_better=False))
    record("overheads", rows, notes=(
        "ours: python train.py with tracking=none evaluate=false; the plain script trains the "
        "same tiny model on the same train rows with the HF Trainer, no config, no caching, "
        f"no tracking. Sweep overhead per job (sweep wall minus two single runs, / 2): "
        f"{per_job:.2f} s, for the sweep directory, done markers, submitit's pickled job and "
        f"summary."))


if __name__ == "__main__":
    main()
