"""Run the documented commands as a user would and check each exits as the docs say.

The documented commands are those of README.md and of every page under docs/ (``doc_files``):
every command in a ```bash block (and every ``$ ``-prompted line of another block) must match
one entry of ``PLANS`` below, or the check fails: a command added to the README or a docs page
without a plan is caught here. Each plan says how the command is checked on a CPU machine
without network:

- ``run``: it runs here, offline, and must exit as documented (0, or e.g. 3 for a planned stop;
  placeholders such as ``<run>`` are replaced by the run directory an earlier command made);
- ``fails``: it needs something this machine lacks (a hub download, a dataset at /data/...) and
  must end in one line naming it, with exit 2 and no traceback;
- ``skip``: it cannot run here at all (a GPU, a cluster, an interactive prompt, a server that
  runs until stopped), with the reason.

    python scripts/check_readme_commands.py --quick          # the commands that take seconds
    python scripts/check_readme_commands.py --out FILE.json  # everything, with wall times
    python scripts/check_readme_commands.py --table FILE.json # those times as a Markdown table

Commands run from a scratch directory (outputs, multirun and mlflow.db land there), with an
empty cache unless ``--cache`` is given, so the times are those of a fresh clone's first runs.
They run in the order of README.md, then the docs pages in path order (the README's first runs
make the run directories later commands refer to). A command documented on several pages runs
once (a plan with several exits, as many times as it lists), later copies are reported as
skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Plan:
    pattern: str           # regex matched against the whole command (comment removed)
    kind: str              # run | fails | skip
    why: str = ""          # fails: a fragment of the one-line error; skip: the reason
    quick: bool = False    # part of --quick (seconds, no training)
    exits: tuple[int, ...] = (0,)  # run: the documented exit of each occurrence, in order


# In README order, then docs/. The first matching plan applies.
PLANS = [
    Plan(r"^make (demo|test|install)$", "skip", "the Makefile targets (CI runs make test)"),
    Plan(r"mlflow ui", "skip", "a server that runs until stopped"),
    Plan(r"^source ", "skip", "shell set-up"),
    Plan(r"^(scripts/local_slurm\.sh |export SLURM_CONF=)", "skip",
         "starts Slurm daemons (root); tests/test_slurm_cluster.py runs this path"),
    Plan(r"hydra/launcher=slurm .*hydra\.launcher\.nodes=2", "skip",
         "needs the local 2-node Slurm cluster (root, network namespaces); "
         "tests/test_slurm_nodes.py starts one"),
    Plan(r"hydra/launcher=slurm .*fold=0,1,2,3,4$", "skip",
         "needs the local Slurm cluster; tests/test_slurm_cluster.py runs this sweep"),
    Plan(r"^(python -m venv|pip install)", "skip", "the install by hand (the Makefile's steps)"),
    Plan(r"--help$", "run", quick=True),
    Plan(r"--cfg job$", "run", quick=True),
    Plan(r"experiment=socrates_seed$", "fails", "socratesft/SocSci210", quick=True),
    Plan(r"data=socsci210 data.path=/data/SocSci210$", "fails", "/data/SocSci210", quick=True),
    Plan(r"train=false model=qwen2.5-0.5b-instruct$", "fails", "cannot download", quick=True),
    Plan(r"cli.predict \S+$", "skip", "interactive: reads profiles from the terminal"),
    Plan(r"cli\.paper_table (RUN_DIR|.*<)", "skip",
         "a template: RUN_DIR and <...> stand for the reader's own run directories"),
    # The first stops after the checkpoint at step 4 (exit 3); the same command continues.
    Plan(r"debug=preempt hydra.run.dir=outputs/demo$", "run", exits=(3, 0)),
    Plan(r"trainer.learing_rate", "fails", "unknown key", quick=True),
    Plan(r"model=gpt5$", "fails", "not a known option", quick=True),
    Plan(r"model=qwen2.5-14b-instruct data=socsci210$", "fails", "download socratesft/SocSci210",
         quick=True),
    Plan(r"--data /data/BioRED --split test$", "fails", "/data/BioRED"),
    Plan(r"data\.path=/data/\S+$", "fails", "/data/", quick=True),
    Plan(r"cli\.score_relext --gold /data/", "fails", "/data/", quick=True),
    Plan(r"data\.path=/data/litcoin .*data\.negative_ratio=3$", "fails", "/data/litcoin",
         quick=True),
    Plan(r"data\.path=\.\.\.", "fails", "", quick=True),
    Plan(r"experiment=relext_seed model=pubmedbert", "fails", "/data/BioRED", quick=True),
    Plan(r"make_relext_splits.py --data /data/BioRED", "fails", "/data/BioRED", quick=True),
    Plan(r"strategy\.devices=\[0,2,3\]", "skip", "needs 3 GPUs (devices 0, 2, 3)"),
    Plan(r"strategy.num_processes=4", "skip", "4 processes of QLoRA: a GPU machine's command"),
    Plan(r"hydra/launcher=slurm hydra.launcher.partition=gpu", "skip",
         "submits to a Slurm partition named gpu"),
    Plan(r"cli\.(memory|slurm_script) ", "run", quick=True),
    Plan(r"cli.sync_tracking RUN_DIR \[", "skip", "a usage line (RUN_DIR ... is a template)"),
    Plan(r".", "run"),
]

# Placeholders in documented commands and what stands for them here.
PLACEHOLDERS = {
    "outputs/socrates/runs/<run>": "{socrates_run}",
    "RUN...": "{fold_runs}",
}


def readme_commands(readme: Path) -> list[str]:
    """Commands in ```bash blocks, and ``$ ``-prompted lines of other blocks (examples shown
    with their output): continuation lines joined, trailing comments removed."""
    commands, block, pending = [], None, ""
    for raw in readme.read_text().splitlines():
        if raw.startswith("```"):
            block = None if block is not None else raw.strip().removeprefix("```")
            continue
        if block is None or not raw.strip():
            continue
        if block != "bash":
            if raw.startswith("$ "):
                commands.append(_strip_comment(raw[2:]))
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        commands.append(_strip_comment(line))
    return [c for c in commands if c]


def _strip_comment(line: str) -> str:
    """Drop a trailing ``# comment`` (outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


def doc_files(root: Path = ROOT) -> list[Path]:
    """The files whose commands are checked: README.md, then every docs/**/*.md by path."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def documented_commands(files: list[Path] | None = None) -> list[tuple[Path, str]]:
    """Every documented command with the file it is in, in checking order."""
    return [(f, c) for f in (doc_files() if files is None else files)
            for c in readme_commands(f)]


def plan_for(command: str) -> Plan:
    return next(p for p in PLANS if re.search(p.pattern, command))


def as_runnable(command: str, found: dict[str, str]) -> str | None:
    """The command for this machine: the venv's python, the repository's scripts, known
    placeholders filled in (None while one is still unknown)."""
    for placeholder, key in PLACEHOLDERS.items():
        if placeholder in command:
            value = found.get(key.strip("{}"))
            if value is None:
                return None
            command = command.replace(placeholder, value)
    # Text substitutions, not a re-quoting: the shell must still expand globs (fold=*).
    command = re.sub(r"^python ", f"{shlex.quote(sys.executable)} ", command)
    # ... and the one a command runs after ``--`` (check_reproducible.py -- python train.py ...)
    command = re.sub(r"(?<= -- )python ", f"{shlex.quote(sys.executable)} ", command)
    return re.sub(r"(?<= )(train\.py|scripts/)", lambda m: f"{ROOT}/{m.group(1)}", command)


def run_one(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    return proc.returncode, time.perf_counter() - start, proc.stdout + proc.stderr


def check_outcome(plan: Plan, occurrence: int, rc: int, output: str) -> str | None:
    """What is wrong with the outcome, or None when it is as documented."""
    if plan.kind == "run":
        expected = plan.exits[min(occurrence, len(plan.exits) - 1)]
        return None if rc == expected else f"exit {rc}, expected {expected}"
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if rc != 2:
        return f"exit {rc}, expected 2 (one line naming what is missing)"
    if "Traceback" in output:
        return "a traceback instead of one line"
    if plan.why and plan.why not in last:
        return f"last line {last!r} does not name {plan.why!r}"
    return None


def remember(command: str, cwd: Path, found: dict[str, str]) -> None:
    """Run directories later commands refer to (``<run>``, ``RUN...``)."""
    if "task=relext" not in command and " -m " not in command and "socrates_run" not in found:
        runs = sorted((cwd / "outputs" / "socrates" / "runs").glob("*/done.json"))
        if runs:
            found["socrates_run"] = str(runs[-1].parent)
    folds = sorted((cwd / "multirun" / "relext").glob("*/fold=*/done.json"))
    if len(folds) >= 2 and "fold_runs" not in found:
        found["fold_runs"] = " ".join(str(p.parent) for p in folds[:2])


def markdown_table(results: list[dict]) -> str:
    """The measured commands as docs rows: command, wall time, exit (skipped ones with why)."""
    lines = ["| command | wall time | exit |", "|---|---|---|"]
    for r in results:
        if "seconds" in r:
            s = r["seconds"]
            took = f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"
            lines.append(f"| `{r['command']}` | {took} | {r['exit']} |")
        elif r["plan"] == "skip":
            lines.append(f"| `{r['command']}` | not run here: {r['why']} | |")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the commands that take seconds")
    ap.add_argument("--out", type=Path, help="write every command's outcome and time (JSON)")
    ap.add_argument("--workdir", type=Path, help="scratch directory (default: a new temp dir)")
    ap.add_argument("--cache", type=Path, help="cache dir (default: a new, empty one)")
    ap.add_argument("--readme", type=Path, action="append", metavar="FILE",
                    help="check only this Markdown file (repeatable; default: README.md and "
                    "docs/**/*.md)")
    ap.add_argument("--table", type=Path, help="print the Markdown table of a --out file, run "
                    "nothing")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.table.read_text())["commands"]))
        return 0

    cwd = args.workdir or Path(tempfile.mkdtemp(prefix="readme-commands-"))
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MLFLOW_TRACKING_URI": "",
           "SOCIO_RE_CACHE_DIR": str(args.cache or cwd / ".cache")}
    env.pop("MLFLOW_TRACKING_URI")  # the default store: ./mlflow.db in the scratch dir
    results, problems, found, seen = [], [], {}, {}
    for path, command in documented_commands(args.readme):
        plan = plan_for(command)
        occurrence = seen[command] = seen.get(command, -1) + 1
        row = {"command": command, "file": _shown(path), "plan": plan.kind, "why": plan.why}
        runs_allowed = len(plan.exits) if plan.kind == "run" else 1
        if plan.kind != "skip" and occurrence >= runs_allowed:
            row["outcome"] = "skipped: the same command ran earlier"
            results.append(row)
            continue
        runnable = as_runnable(command, found)
        if plan.kind == "skip" or (args.quick and not plan.quick) or runnable is None:
            row["outcome"] = "skipped" if plan.kind == "skip" or runnable is not None \
                else "skipped: no run to refer to yet"
            results.append(row)
            continue
        rc, seconds, output = run_one(runnable, cwd, env)
        problem = check_outcome(plan, occurrence, rc, output)
        row.update(exit=rc, seconds=round(seconds, 1), outcome=problem or "as documented")
        results.append(row)
        print(f"{'ok ' if problem is None else 'BAD'} {seconds:7.1f} s  exit {rc}  {command}",
              flush=True)
        if problem:
            problems.append(f"{_shown(path)}: {command}: {problem}\n{output[-2000:]}")
        remember(command, cwd, found)
    if args.out:
        args.out.write_text(json.dumps({"workdir": str(cwd), "commands": results}, indent=1)
                            + "\n")
    for p in problems:
        print(f"\n--- {p}", file=sys.stderr)
    ran = sum("exit" in r for r in results)
    print(f"{ran - len(problems)} passed, {len(problems)} failed (of {len(results)} documented "
          f"commands; {len(results) - ran} not run here)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
