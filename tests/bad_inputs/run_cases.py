"""Run ``train.py`` once per case, a few at a time, for ``tests/test_bad_inputs.py``.

Reads one JSON object per line on stdin (``id``, ``args``, ``cwd``, ``stdout``, ``stderr``),
then runs every case with its stdout and stderr in those files, at most ``--jobs`` at once, and
prints ``{"id": ..., "code": exit code}`` as each one ends.

Each case is a child process that calls ``train.py``'s own ``main()`` with the case's command
line, forked from this process after it has imported what every run imports (torch,
transformers, datasets, Hydra, socio_re): a run that stops at a bad input costs a few hundred
milliseconds instead of the seconds those imports take. An exception that escapes ``main()``
prints its traceback and exits 1, as ``python train.py`` would. ``--fresh`` replaces each child
with a new ``python train.py`` process instead (the exact user command, slower).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[2] / "train.py"


# What every run imports before it reads its data: imported once, here, before the forks.
WARM = ("torch", "transformers", "datasets", "socio_re.cli.train", "socio_re.config.validate",
        "socio_re.run", "socio_re.tasks.socrates.run", "socio_re.tasks.socrates.data.prepared",
        "socio_re.tasks.relext.run", "socio_re.tasks.relext.data.prepared")


def _child(case: dict, fresh: bool) -> None:
    """In the forked child: become ``python train.py ARGS`` and never return."""
    code = 1
    try:
        os.chdir(case["cwd"])
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        argv = [str(TRAIN), *case["args"]]
        if fresh:
            os.execv(sys.executable, [sys.executable, *argv])
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = argv
        from socio_re.cli.train import main

        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    pending = [json.loads(line) for line in sys.stdin if line.strip()]
    if not args.fresh:
        for module in WARM:
            importlib.import_module(module)
    running: dict[int, dict] = {}
    while pending or running:
        while pending and len(running) < max(1, args.jobs):
            case = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case, args.fresh)
            running[pid] = case
        pid, status = os.wait()
        case = running.pop(pid)
        print(json.dumps({"id": case["id"], "code": os.waitstatus_to_exitcode(status)}),
              flush=True)


if __name__ == "__main__":
    main()
