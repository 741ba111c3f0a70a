"""Break runs the ways real machines do, at random, and check nothing is lost.

    python scripts/fault_injection.py --trials 20 --seed 0      # about 15 min on 2 cores

Every trial runs the same small socrates job (8 steps, a checkpoint every 2, tracked in a local
MLflow store) through ``train.py`` and injects one fault:

- ``kill``: ``kill -9`` of the whole run at a random moment, then the same command again;
- ``truncate``: a run stopped at a random checkpoint, then a random file of its newest
  checkpoint cut at a random length, deleted, or the whole folder emptied, then resumed;
- ``race``: three runs started at the same moment on a store that does not exist yet;
- ``unplug``: the MLflow server killed at a random moment of the run; the run goes on offline,
  and ``socio-re-sync-tracking`` uploads its record into the server's store afterwards.

A trial passes when every run ends with exit 0 and the final metrics of an uninterrupted
reference run (timings aside), its MLflow run is FINISHED in the store with those metrics, and
the store is healthy (schema at head, no leftover ``_alembic_tmp_*`` tables). The summary line
and ``<work>/fault_injection.json`` give the verdict per trial; exit 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The run under test: small and deterministic, so "same metrics" means bitwise the same.
ARGS = ["debug=preempt", "trainer.stop_at_step=null", "task.eval.compare_base=false",
        "task.eval.max_rows=8"]
TIMINGS = ("train/runtime_s", "train/samples_per_second")
KINDS = ("kill", "truncate", "race", "unplug")


def train(run_dir: Path, uri: str, extra: list[str] = (), wait: bool = True):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    cmd = [sys.executable, str(ROOT / "train.py"), *ARGS, *extra, f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=run_dir.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if not wait:
        return proc
    _, err = proc.communicate()
    return proc.returncode, err


def final_metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIMINGS}


def store_problems(uri: str, run_dirs: list[Path], expected: dict,
                   db: Path | None = None) -> list[str]:
    """What is wrong with the store (its sqlite file ``db``, by default ``uri``'s) and the runs
    recorded in it, read through ``uri`` (empty: healthy)."""
    import mlflow

    from socio_re.tracking.store import read_schema, recorded_run_id, sqlite_file

    problems = []
    state = read_schema(db or sqlite_file(uri))
    if not state.ready():
        problems.append(f"store not healthy: {state.describe()}")
    client = mlflow.MlflowClient(uri)
    for run_dir in run_dirs:
        run_id = recorded_run_id(run_dir, uri) or _offline_run_id(run_dir)
        if not run_id:
            problems.append(f"{run_dir.name}: no MLflow run recorded")
            continue
        run = client.get_run(run_id)
        if run.info.status != "FINISHED":
            problems.append(f"{run_dir.name}: MLflow run {run.info.status}")
        logged = run.data.metrics
        wrong = [k for k, v in expected.items() if isinstance(v, float)
                 and k in logged and abs(logged[k] - v) > 1e-9]
        if wrong or "val/loss" not in logged:
            problems.append(f"{run_dir.name}: MLflow metrics differ: {wrong or 'val/loss missing'}")
    return problems


def _offline_run_id(run_dir: Path) -> str | None:
    record = run_dir / "tracking.json"
    return json.loads(record.read_text()).get("run_id") if record.exists() else None


def check_run(run_dir: Path, code: int, err: str, reference: dict) -> list[str]:
    if code != 0:
        return [f"{run_dir.name}: exit {code}: {err.strip().splitlines()[-1:]}"]
    got = final_metrics(run_dir)
    if got != reference:
        diff = sorted(k for k in set(got) | set(reference) if got.get(k) != reference.get(k))
        return [f"{run_dir.name}: final metrics differ from the reference in {diff}"]
    return []


def trial_kill(work: Path, uri: str, rng: random.Random, duration: float, reference: dict):
    run_dir = work / "run"
    proc = train(run_dir, uri, wait=False)
    delay = rng.uniform(0.15, 1.0) * duration
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    code, err = train(run_dir, uri)
    note = f"kill -9 at {delay:.1f}s" + ("" if killed else " (run had already ended)")
    return note, check_run(run_dir, code, err, reference) or store_problems(uri, [run_dir],
                                                                            reference)


def trial_truncate(work: Path, uri: str, rng: random.Random, duration: float, reference: dict):
    run_dir = work / "run"
    stop = rng.choice([2, 4, 6])
    code, err = train(run_dir, uri, [f"trainer.stop_at_step={stop}"])
    if code != 3:
        return f"stop at {stop}", [f"the stopped run exited {code}: {err[-500:]}"]
    newest = run_dir / "checkpoints" / f"checkpoint-{stop}"
    files = sorted(p for p in newest.rglob("*") if p.is_file())
    victim = rng.choice(files)
    action = rng.choice(["cut", "cut", "delete", "empty the folder"])
    if action == "cut":
        keep = rng.randrange(0, max(1, victim.stat().st_size))
        victim.write_bytes(victim.read_bytes()[:keep])
        note = f"{victim.name} cut to {keep} bytes"
    elif action == "delete":
        victim.unlink()
        note = f"{victim.name} deleted"
    else:
        for f in files:
            f.unlink()
        note = "folder emptied"
    code, err = train(run_dir, uri)
    return f"stopped at {stop}, {note}", (check_run(run_dir, code, err, reference)
                                          or store_problems(uri, [run_dir], reference))


def trial_race(work: Path, uri: str, rng: random.Random, duration: float, reference: dict):
    fresh = f"sqlite:///{work / 'race.db'}"  # a store nobody has created yet
    dirs = [work / f"run{i}" for i in range(3)]
    procs = [train(d, fresh, wait=False) for d in dirs]
    problems = []
    for d, p in zip(dirs, procs, strict=True):
        _, err = p.communicate()
        problems += check_run(d, p.returncode, err, reference)
        if "training goes on and tracking data is" in err:  # the tracker's offline line
            problems.append(f"{d.name}: went offline in the race")
    return "3 runs at once on a new store", problems or store_problems(fresh, dirs, reference)


def trial_unplug(work: Path, uri: str, rng: random.Random, duration: float, reference: dict):
    from tests.mlflow_server import mlflow_server

    run_dir = work / "run"
    with mlflow_server(work) as http:
        proc = train(run_dir, http, wait=False)
        delay = rng.uniform(0.2, 0.9) * duration
        time.sleep(delay)
    # the server is gone from here on (killed when the block ended): the run goes on offline
    _, err = proc.communicate()
    problems = check_run(run_dir, proc.returncode, err, reference)
    with mlflow_server(work) as http:  # back, on the same store (another port)
        if not problems and (run_dir / "mlflow_offline").exists():
            sync = subprocess.run([sys.executable, "-m", "socio_re.cli.sync_tracking",
                                   "--tracking-uri", http, str(run_dir)],
                                  capture_output=True, text=True, cwd=work)
            if sync.returncode != 0:
                problems.append(f"sync_tracking exited {sync.returncode}: "
                                f"{sync.stderr.strip().splitlines()[-1:]}")
        problems = problems or store_problems(http, [run_dir], reference, work / "server.db")
    return f"server killed at {delay:.1f}s", problems


TRIALS = {"kill": trial_kill, "truncate": trial_truncate, "race": trial_race,
          "unplug": trial_unplug}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    parser.add_argument("--work", type=Path, default=None, help="default: a temp folder")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = args.work or Path(tempfile.mkdtemp(prefix="socio_re_faults_"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    kinds = args.kinds.split(",")

    ref_dir = work / "reference" / "run"
    ref_dir.parent.mkdir(parents=True)
    start = time.time()
    code, err = train(ref_dir, "", ["tracking=none"])
    if code != 0:
        print(f"the reference run failed: {err[-2000:]}")
        return 1
    duration = time.time() - start
    reference = final_metrics(ref_dir)
    print(f"reference run: {duration:.0f} s, val/loss {reference['val/loss']:.6f}", flush=True)

    results = []
    for i in range(args.trials):
        kind = rng.choice(kinds)
        trial_dir = work / f"trial{i:02d}-{kind}"
        trial_dir.mkdir()
        uri = f"sqlite:///{work / 'mlflow.db'}"  # one store shared by the trials, like a lab's
        t0 = time.time()
        note, problems = TRIALS[kind](trial_dir, uri, rng, duration, reference)
        results.append({"trial": i, "kind": kind, "fault": note, "ok": not problems,
                        "problems": problems, "seconds": round(time.time() - t0, 1)})
        print(f"trial {i:2d} {kind:<8} {'ok  ' if not problems else 'FAIL'} {note}"
              + "".join(f"\n    {p}" for p in problems), flush=True)
        if not problems:
            shutil.rmtree(trial_dir / "run", ignore_errors=True)  # keep failures to look at
    passed = sum(r["ok"] for r in results)
    (work / "fault_injection.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"{passed}/{len(results)} trials ended on the reference metrics with a healthy store "
          f"(details: {work / 'fault_injection.json'})")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
