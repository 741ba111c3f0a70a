"""The bad-input corpus (``tests/bad_inputs/``, written by ``make_corpus.py``, listed in
``cases.yaml``): every malformed input through ``python train.py`` ends in one line that names
the problem (and the file, and the line or row where the format has them), exit code 2, no
traceback and no run folder; every good-but-unusual input (BOM, CRLF, trailing blank lines,
extra columns) is read and prepared.

The ``train.py`` runs start in the background, two at a time, when the first case needs its
result (``bad_inputs/run_cases.py``: each run a fork of one process that has already imported
torch, transformers and socio_re, so a case costs its own work, not those imports).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import compose

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))["cases"]
BAD = [c for c in CASES if not c.get("accept")]
GOOD = [c for c in CASES if c.get("accept")]
# train.py processes at once: each is one CPU-bound Python process.
JOBS = int(os.environ.get("SOCIO_RE_TEST_JOBS", "0")) or min(2, os.cpu_count() or 1)


def _args(case: dict) -> list[str]:
    folder = CORPUS / case["id"]
    return [arg.replace("{dir}", str(folder)) for arg in case["args"]]


def _param(case: dict):
    marks = [pytest.mark.xfail(strict=True, reason=case["needs_fix"])] if case.get(
        "needs_fix") else []
    return pytest.param(case, id=case["id"], marks=marks)


@dataclass
class Result:
    returncode: int
    stderr: str
    run_dir: Path


@pytest.fixture(scope="module")
def runs(request, cache_dir, tmp_path_factory):
    """``{case id: Future of its Result}`` for the bad cases this session selected: one
    ``run_cases.py`` process runs them all, ``JOBS`` at a time, each a fork that calls
    ``train.py``'s ``main()`` with the case's command line (``SOCIO_RE_BAD_INPUTS_FRESH=1``: a
    new ``python train.py`` process per case instead)."""
    selected = {item.callspec.id for item in request.session.items
                if getattr(item, "originalname", None) == "test_bad_input_is_one_line"
                and hasattr(item, "callspec")}
    root = tmp_path_factory.mktemp("bad_inputs")
    env = {**os.environ, "SOCIO_RE_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    futures: dict[str, Future] = {}
    requests = []
    for case in BAD:
        if case["id"] not in selected:
            continue
        work = root / case["id"].replace("/", "__")
        work.mkdir(parents=True)
        requests.append({"id": case["id"], "cwd": str(work),
                         "args": [*_args(case), "tracking=none", f"hydra.run.dir={work / 'run'}"],
                         "stdout": str(work / "stdout.txt"), "stderr": str(work / "stderr.txt")})
        futures[case["id"]] = Future()
    fresh = ["--fresh"] if os.environ.get("SOCIO_RE_BAD_INPUTS_FRESH") == "1" else []
    log = (root / "runner.log").open("w")
    runner = subprocess.Popen(
        [sys.executable, str(CORPUS / "run_cases.py"), "--jobs", str(JOBS), *fresh],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)

    def collect() -> None:
        runner.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
        runner.stdin.close()
        for line in runner.stdout:
            done = json.loads(line)
            work = root / done["id"].replace("/", "__")
            futures[done["id"]].set_result(Result(
                done["code"], (work / "stderr.txt").read_text(errors="replace"), work / "run"))
        runner.wait()
        for cid, future in futures.items():
            if not future.done():
                future.set_exception(RuntimeError(
                    f"run_cases.py ended (exit {runner.returncode}) before {cid}: "
                    f"{(root / 'runner.log').read_text()[-2000:]}"))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    yield futures
    if runner.poll() is None:
        runner.kill()
    reader.join(timeout=30)
    log.close()


@pytest.mark.parametrize("case", [_param(c) for c in BAD])
def test_bad_input_is_one_line(case, runs):
    out = runs[case["id"]].result(timeout=900)
    run_dir = out.run_dir
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    shown = f"exit {out.returncode}; stderr ends:\n{out.stderr[-1500:]}"
    assert "Traceback" not in out.stderr, shown
    assert out.returncode == 2, shown
    for needle in case["expect"]:
        assert needle in last, f"{needle!r} not in the last line {last!r}"
    assert not (run_dir / "done.json").exists() and not (run_dir / "model").exists()
    # A run that fails at start-up leaves no run folder at all (config.yaml, run.log removed).
    assert not run_dir.exists(), sorted(p.name for p in run_dir.iterdir())


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", [_param(c) for c in GOOD])
def test_unusual_input_is_accepted(case, cache_dir):
    """Read, validated and prepared (split or folds) by the task's own prepare step, in this
    process; the user's files are left as they were."""
    from socio_re.config.validate import validate_config

    rc = validate_config(compose(_args(case)))
    folder = CORPUS / case["id"]
    before = _digest(folder)
    if rc.task.name == "socrates":
        from socio_re.tasks.socrates.data.prepared import prepare_splits

        prepared = prepare_splits(rc.data, rc.paths.cache_dir)
        assert prepared.report["malformed"] == 0 and prepared.report["total"] == 20
        assert sum(prepared.rows(name) for name in ("train", "val", "test")) == 20
        assert all(prepared.rows(name) for name in ("train", "val", "test"))
    else:
        from socio_re.tasks.relext.data.prepared import prepare

        prepared = prepare(rc.data, rc.paths.cache_dir)
        assert {i.abstract_id for i in prepared.instances} == {"111", "222", "333"}
        assert {i.type for i in prepared.instances} >= {"Bind", "Association"}
    assert _digest(folder) == before


def test_corpus_is_complete():
    """At least 40 bad inputs, every format represented, every case's files present."""
    formats = {c["id"].split("/")[0] for c in BAD}
    assert len(BAD) >= 40 and len(GOOD) >= 6
    assert formats >= {"pubtator", "bioc", "litcoin", "split_files", "socsci", "yaml",
                       "overrides"}
    for c in CASES:
        assert c.get("accept") or c.get("expect"), c
        if any("{dir}" in a for a in c["args"]):
            assert (CORPUS / c["id"]).is_dir(), c["id"]
    assert len({c["id"] for c in CASES}) == len(CASES)
