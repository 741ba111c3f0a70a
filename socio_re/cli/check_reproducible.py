"""Run a command twice from empty caches and show what differs between the two results.

    python scripts/check_reproducible.py -- python train.py task=relext fold=0
    python scripts/check_reproducible.py --tolerance 1e-6 -- python train.py strategy=ddp
    python scripts/check_reproducible.py --keep -- python train.py -m task=relext fold=0,1
    python scripts/check_reproducible.py -- python -m socio_re.cli.ensemble RUN... --out {out}
    python scripts/check_reproducible.py --second-env OMP_NUM_THREADS=1 -- python train.py

``--second-env KEY=VALUE`` changes the second attempt's environment only: how much does the
result move on a machine with another core count (intra-op threads), say.

Each attempt gets its own folder ``<work>/attempt-N`` (both names the same length, so a path
written into a file cannot change its size) holding a fresh, empty ``SOCIO_RE_CACHE_DIR``
(``cache/``), a fresh MLflow store (``mlflow.db``, artifacts beside it) and the outputs
(``out/``). A ``train.py`` command gets ``hydra.run.dir=<attempt>/out/run`` (a multirun,
``-m``, ``hydra.sweep.dir=<attempt>/out/multirun``); any other command writes where it is told
by ``{out}`` in its arguments. The command runs from the current directory, so relative paths
in it mean what they mean when typed; the two attempts run one after the other.

What is compared, paired by the path relative to ``out/``:

- metrics: every ``metrics.json``, ``eval_metrics.json``, sweep ``aggregate.json`` and the
  Trainer's ``trainer_state.json`` (loss curve, eval history), value by value, minus
  :data:`TIMING_NAMES` and the names :func:`is_timing_key` matches (wall-clock measurements,
  different in every run by nature) and :data:`ID_NAMES` (MLflow run ids, random);
- model files: the sha256 of every file under a ``model/`` or ``checkpoints/`` folder (weights,
  optimizer and RNG states, config, tokenizer), except ``training_args.bin`` (the pickled
  TrainingArguments: they hold the attempt's own output directory) and the checkpoints'
  completeness markers ``socio_re_complete.json`` (file sizes, trainer_state.json's among
  them, whose timings vary in length). Differing tensor files
  (safetensors, torch ``.pt``/``.pth``/``.bin``) also say the largest absolute difference;
- prediction files: every ``.csv``, ``.tsv``, ``.jsonl``, ``.pubtator`` and ``.npy`` output
  (predictions, submissions, per-class tables, confusion matrices, the paper table, a fold
  ensemble's probabilities), byte for byte; when they differ, cell by cell (how many cells,
  the largest numeric difference);
- the two caches: the sha256 of every file built into them (tiny models, sample data, prepared
  splits), except lock files and the digest memo ``file_digests.json`` (it records
  modification times).

Before hashing or comparing text, each attempt's own folder in it is replaced by
``<attempt>``: a config that names the cache it was loaded from is not a difference. Not
compared: logs, plots (PNG), ``summary.json``, ``done.json`` and tracking records (they hold
run ids, paths and times), ``.hydra``, ``.submitit`` and offline MLflow records.

Exit 0 when every compared thing is identical (or within ``--tolerance``, an absolute bound on
numbers in metrics, tables and tensors), 1 when something differs or the command failed, 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Metric names that are wall-clock measurements (socrates' metrics.json: the Trainer's
# train_runtime and throughput; trainer_state.json's log_history: the Trainer's own keys).
TIMING_NAMES = frozenset({
    "train/runtime_s", "train/samples_per_second", "train_runtime", "train_samples_per_second",
    "train_steps_per_second", "train_tokens_per_second", "eval_runtime",
    "eval_samples_per_second", "eval_steps_per_second", "finished_at", "started_at",
    "timestamp", "start_time", "end_time", "wall_s",
})
# ... and any name (last path component) containing these.
TIMING_PARTS = ("runtime", "per_second", "timestamp", "wall_time", "elapsed")
# Identifiers MLflow draws at random for each run (a sweep's aggregate.json names its parent).
ID_NAMES = frozenset({"run_id", "parent_run_id", "experiment_id"})

METRICS_FILES = frozenset({"metrics.json", "eval_metrics.json", "aggregate.json",
                           "trainer_state.json"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".jsonl", ".pubtator"})
ARRAY_SUFFIXES = frozenset({".npy"})  # e.g. a fold ensemble's test probabilities
TENSOR_SUFFIXES = frozenset({".safetensors", ".pt", ".pth", ".bin", *ARRAY_SUFFIXES})
MODEL_FOLDERS = frozenset({"model", "checkpoints"})
# training_args.bin pickles the TrainingArguments, whose output_dir is the attempt's own folder;
# a checkpoint's completeness marker lists file sizes, trainer_state.json's among them (its
# timings vary in length); file_digests.json (caches) memoizes digests by modification time.
SKIPPED_FILES = frozenset({"training_args.bin", "socio_re_complete.json", "file_digests.json"})
SKIPPED_FOLDERS = frozenset({".hydra", ".submitit", ".locks", "__pycache__", "mlflow_offline",
                             "mlflow_offline.uploaded"})
ATTEMPT_TOKEN = b"<attempt>"
ATTEMPTS = ("attempt-1", "attempt-2")
KINDS = ("metrics", "model", "predictions", "cache")


class UsageError(Exception):
    """A mistake in how the tool was called: one line, exit 2."""


@dataclass(frozen=True)
class Difference:
    kind: str            # metrics | model | predictions | cache
    path: str            # relative to the attempt's out/ (or cache/)
    what: str            # the key, cell or file that differs
    first: str           # the value in attempt 1 (short)
    second: str          # the value in attempt 2 (short)
    delta: float | None = None   # largest absolute numeric difference, where numeric
    within: bool = False         # within --tolerance


@dataclass
class Comparison:
    compared: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    differences: list[Difference] = field(default_factory=list)

    @property
    def failing(self) -> list[Difference]:
        return [d for d in self.differences if not d.within]


# ---------------------------------------------------------------------------------------------
# What counts as what


def is_timing_key(key: str) -> bool:
    """A wall-clock measurement, by its last component (``log_history[3].train_runtime``)."""
    name = key.rsplit(".", 1)[-1]
    return key in TIMING_NAMES or name in TIMING_NAMES or \
        any(part in name for part in TIMING_PARTS)


def is_ignored_key(key: str) -> bool:
    """Left out of the comparison: a timing, or a random run identifier."""
    return is_timing_key(key) or key.rsplit(".", 1)[-1] in ID_NAMES


def kind_of(rel: Path) -> str | None:
    """metrics, model, predictions, or None (not compared) for a file of an output tree."""
    if rel.name in SKIPPED_FILES or any(p in SKIPPED_FOLDERS for p in rel.parts[:-1]):
        return None
    if rel.name in METRICS_FILES:
        return "metrics"
    if any(p in MODEL_FOLDERS for p in rel.parts[:-1]):
        return "model"
    if rel.suffix in TABLE_SUFFIXES or rel.suffix in ARRAY_SUFFIXES:
        return "predictions"
    return None


def collect(root: Path) -> dict[str, dict[str, Path]]:
    """kind -> relative path -> file, for every compared file under ``root``."""
    found: dict[str, dict[str, Path]] = {k: {} for k in KINDS[:3]}
    for path in _files(root):
        kind = kind_of(path.relative_to(root))
        if kind:
            found[kind][path.relative_to(root).as_posix()] = path
    return found


def collect_cache(root: Path) -> dict[str, Path]:
    """Every built file of a cache, minus locks and the digest memo (mtimes inside)."""
    return {p.relative_to(root).as_posix(): p for p in _files(root)
            if p.name not in SKIPPED_FILES and not p.name.endswith(".lock")
            and ".locks" not in p.relative_to(root).parts}


def _files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


# ---------------------------------------------------------------------------------------------
# Comparing


def normalized(path: Path, attempt: Path | None) -> bytes:
    """The file's bytes with the attempt's own folder (as given and resolved) replaced by
    ``<attempt>``, so that a path written into an output is not a difference."""
    data = path.read_bytes()
    if attempt is None:
        return data
    for form in sorted({str(attempt), str(attempt.resolve())}, key=len, reverse=True):
        data = data.replace(form.encode(), ATTEMPT_TOKEN)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON as ``{"a.b[2].c": leaf}``; a flat metrics dict keeps its keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def value_delta(a: Any, b: Any) -> float | None:
    """|a - b| for two numbers (inf when one is not finite and they differ), else None."""
    x, y = _number(a), _number(b)
    if x is None or y is None:
        return None
    if x == y or (math.isnan(x) and math.isnan(y)):
        return 0.0
    return abs(x - y) if math.isfinite(x) and math.isfinite(y) else math.inf


def _short(value: Any, width: int = 24) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[:width - 1] + "…"


def _within(delta: float | None, tolerance: float | None) -> bool:
    return tolerance is not None and delta is not None and delta <= tolerance


def compare_metrics(rel: str, a: dict[str, Any], b: dict[str, Any],
                    tolerance: float | None) -> list[Difference]:
    """Value by value, timing keys left out; a key in one file only is a difference."""
    fa = {k: v for k, v in flatten(a).items() if not is_ignored_key(k)}
    fb = {k: v for k, v in flatten(b).items() if not is_ignored_key(k)}
    out = []
    for key in sorted(fa.keys() | fb.keys()):
        va, vb = fa.get(key, "<missing>"), fb.get(key, "<missing>")
        if key in fa and key in fb and va == vb and type(va) is type(vb):
            continue
        delta = value_delta(va, vb)
        if delta == 0.0 and type(va) is type(vb):
            continue  # NaN == NaN
        out.append(Difference("metrics", rel, key, _short(va), _short(vb), delta,
                              _within(delta, tolerance)))
    return out


def _cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _rows(data: bytes, suffix: str) -> list[list[Any]]:
    text = data.decode("utf-8", errors="replace")
    if suffix == ".jsonl":
        return [[v for _, v in sorted(flatten(json.loads(line)).items())]
                for line in text.splitlines() if line.strip()]
    delimiter = "," if suffix == ".csv" else "\t"
    return [[_cell(c) for c in row] for row in csv.reader(text.splitlines(),
                                                           delimiter=delimiter)]


def compare_table(rel: str, a: bytes, b: bytes, tolerance: float | None) -> list[Difference]:
    """Byte for byte; when not equal, cell by cell: one Difference saying how many cells
    differ, the first of them, and the largest numeric difference."""
    if a == b:
        return []
    try:
        ra, rb = _rows(a, Path(rel).suffix), _rows(b, Path(rel).suffix)
    except (ValueError, csv.Error):
        return [Difference("predictions", rel, "content", sha256(a)[:12], sha256(b)[:12])]
    if len(ra) != len(rb) or any(len(x) != len(y) for x, y in zip(ra, rb, strict=True)):
        return [Difference("predictions", rel, "shape", f"{len(ra)} rows", f"{len(rb)} rows")]
    cells = [(i, j, x, y) for i, (row_a, row_b) in enumerate(zip(ra, rb, strict=True))
             for j, (x, y) in enumerate(zip(row_a, row_b, strict=True)) if x != y]
    if not cells:  # equal once parsed (e.g. 0.10 and 0.1)
        return []
    deltas = [value_delta(x, y) for *_, x, y in cells]
    delta = None if None in deltas else max(deltas)  # type: ignore[type-var]
    i, j, x, y = cells[0]
    what = f"{len(cells)} cell(s), first row {i} col {j}"
    return [Difference("predictions", rel, what, _short(x), _short(y), delta,
                       _within(delta, tolerance))]


def tensor_delta(a: Path, b: Path) -> float | None:
    """Largest absolute difference between two tensor files of the same layout (safetensors or
    a torch pickle of tensors), or None when they cannot be read or are laid out differently."""
    try:
        ta, tb = _tensors(a), _tensors(b)
    except Exception:  # any unreadable file: the hash difference is all there is to say
        return None
    if ta is None or tb is None or ta.keys() != tb.keys():
        return None
    worst = 0.0
    for key, x in ta.items():
        y = tb[key]
        if getattr(x, "shape", None) != getattr(y, "shape", None):
            return None
        worst = max(worst, _max_abs(x, y))
    return worst


def _tensors(path: Path) -> dict[str, Any] | None:
    if path.suffix in ARRAY_SUFFIXES:
        import numpy as np
        import torch

        return {"array": torch.from_numpy(np.load(path, allow_pickle=False))}
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    return flatten(torch.load(str(path), map_location="cpu", weights_only=True))


def _max_abs(x: Any, y: Any) -> float:
    import torch

    if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
        if x.dtype != y.dtype:
            return math.inf
        if not (x.is_floating_point() or x.is_complex()):
            return 0.0 if torch.equal(x, y) else math.inf
        return float((x.double() - y.double()).abs().max()) if x.numel() else 0.0
    delta = value_delta(x, y)
    return delta if delta is not None else (0.0 if x == y else math.inf)


def compare_files(kind: str, rel: str, a: Path, b: Path, attempts: tuple[Path, Path] | None,
                  tolerance: float | None) -> list[Difference]:
    """One pair of files of ``kind``."""
    pa, pb = attempts or (None, None)
    da, db = normalized(a, pa), normalized(b, pb)
    if kind == "metrics":
        try:
            return compare_metrics(rel, json.loads(da), json.loads(db), tolerance)
        except ValueError:
            pass  # not JSON: compared by hash below
    if kind == "predictions" and a.suffix in TABLE_SUFFIXES:
        return compare_table(rel, da, db, tolerance)
    if da == db:
        return []
    delta = tensor_delta(a, b) if a.suffix in TENSOR_SUFFIXES else None
    return [Difference(kind, rel, "sha256", sha256(da)[:12], sha256(db)[:12], delta,
                       _within(delta, tolerance))]


def compare_maps(kind: str, a: dict[str, Path], b: dict[str, Path],
                 attempts: tuple[Path, Path] | None, tolerance: float | None,
                 result: Comparison) -> None:
    for rel in sorted(a.keys() | b.keys()):
        if rel not in a or rel not in b:
            result.differences.append(Difference(kind, rel, "file", "present" if rel in a
                                                 else "missing", "present" if rel in b
                                                 else "missing"))
            continue
        result.compared[kind] += 1
        result.differences.extend(compare_files(kind, rel, a[rel], b[rel], attempts, tolerance))


def compare_outputs(out_a: Path, out_b: Path, tolerance: float | None = None,
                    attempts: tuple[Path, Path] | None = None) -> Comparison:
    """Every metrics, model and prediction file of two output trees, paired by relative path
    (``attempts``: the folders whose paths in the files are replaced by ``<attempt>``)."""
    result = Comparison()
    fa, fb = collect(out_a), collect(out_b)
    for kind in KINDS[:3]:
        compare_maps(kind, fa[kind], fb[kind], attempts, tolerance, result)
    return result


def compare_caches(cache_a: Path, cache_b: Path, result: Comparison,
                   attempts: tuple[Path, Path] | None = None) -> None:
    """Every built file of the two caches, by sha256 (paths to the attempt normalized)."""
    compare_maps("cache", collect_cache(cache_a), collect_cache(cache_b), attempts, None, result)


# ---------------------------------------------------------------------------------------------
# Reporting


def table(differences: list[Difference]) -> str:
    """A fixed-width table of the differences, one per line."""
    rows = [("kind", "file", "what", "attempt 1", "attempt 2", "|diff|")]
    for d in differences:
        delta = "" if d.delta is None else f"{d.delta:.3g}" + (" ok" if d.within else "")
        rows.append((d.kind, d.path, d.what, d.first, d.second, delta))
    widths = [min(max(len(r[i]) for r in rows), 60) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def verdict(result: Comparison, tolerance: float | None) -> str:
    """The last line: identical, within tolerance, or what differs, with the counts."""
    counts = (f"{result.compared['metrics']} metrics files, {result.compared['model']} model "
              f"files, {result.compared['predictions']} prediction files, "
              f"{result.compared['cache']} cache files")
    if result.failing:
        kinds = sorted({d.kind for d in result.failing})
        return f"differs: {len(result.failing)} difference(s) in {', '.join(kinds)} (of {counts})"
    if result.differences:
        worst = max(d.delta or 0.0 for d in result.differences)
        return (f"within tolerance {tolerance:g}: {len(result.differences)} difference(s), "
                f"largest {worst:.3g} (of {counts})")
    return f"identical: {counts}"


def as_json(result: Comparison, tolerance: float | None) -> dict[str, Any]:
    return {"verdict": verdict(result, tolerance), "tolerance": tolerance,
            "compared": result.compared,
            "differences": [d.__dict__ for d in result.differences]}


# ---------------------------------------------------------------------------------------------
# Running the command


def is_train_command(command: list[str]) -> bool:
    return any(Path(arg).name == "train.py" for arg in command)


def attempt_command(command: list[str], attempt: Path) -> list[str]:
    """The command for one attempt: ``{out}`` filled in, and a train.py run (or multirun)
    pointed at the attempt's out/ folder."""
    out = attempt / "out"
    filled = [arg.replace("{out}", str(out)) for arg in command]
    if not is_train_command(command):
        return filled
    multirun = any(arg in ("-m", "--multirun") for arg in command)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    return [*filled, f"{key}={out / ('multirun' if multirun else 'run')}"]


def check_command(command: list[str]) -> None:
    """Usage mistakes, before anything runs."""
    if not command:
        raise UsageError("no command to check; put it after --, e.g. "
                         "check_reproducible.py -- python train.py task=<task> ...")
    own = [a for a in command if a.split("=", 1)[0].lstrip("+~") in
           ("hydra.run.dir", "hydra.sweep.dir")]
    if own:
        raise UsageError(f"drop {own[0]}: each attempt gets its own run directory")
    if not is_train_command(command) and not any("{out}" in a for a in command):
        raise UsageError("cannot tell where the command writes its outputs: use {out} in its "
                         "arguments (only a train.py command is pointed there automatically)")


def attempt_env(attempt: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with a fresh cache and a fresh MLflow store (and ``extra``)."""
    return {**os.environ, "SOCIO_RE_CACHE_DIR": str(attempt / "cache"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{attempt / 'mlflow.db'}", **(extra or {})}


def run_attempt(command: list[str], attempt: Path, index: int, timeout: float | None,
                extra_env: dict[str, str] | None = None) -> int:
    """Run the command once into ``attempt``, its output in ``attempt/command.log``."""
    (attempt / "out").mkdir(parents=True, exist_ok=True)
    argv = attempt_command(command, attempt)
    log = attempt / "command.log"
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in (extra_env or {}).items())
    print(f"attempt {index}/2: {shown + ' ' if shown else ''}{shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    with log.open("w") as handle:
        try:
            # Its own session: a timeout or Ctrl-C stops the whole run (a DDP run's ranks too).
            proc = subprocess.Popen(argv, env=attempt_env(attempt, extra_env), stdout=handle,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            raise UsageError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            rc = 124
        except BaseException:
            _stop(proc)
            raise
    print(f"attempt {index}/2: exit {rc} after {time.perf_counter() - start:.0f} s "
          f"(log: {log})", flush=True)
    return rc


def _stop(proc: subprocess.Popen) -> None:
    """End the command's whole process group: politely, then for good."""
    import signal

    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def check(command: list[str], work: Path, tolerance: float | None = None,
          compare_cache: bool = True, timeout: float | None = None,
          second_env: dict[str, str] | None = None) -> tuple[int, Comparison | None]:
    """Run the command twice under ``work`` (the second time with ``second_env`` added) and
    compare: (exit code, the comparison, None when the command failed)."""
    check_command(command)
    attempts = (work / ATTEMPTS[0], work / ATTEMPTS[1])
    for i, attempt in enumerate(attempts, 1):
        if attempt.exists():
            raise UsageError(f"{attempt} exists already: give an empty --workdir")
        rc = run_attempt(command, attempt, i, timeout, second_env if i == 2 else None)
        if rc != 0:
            print(_tail(attempt / "command.log"), file=sys.stderr)
            print(f"the command failed in attempt {i} (exit {rc}{', timed out' * (rc == 124)});"
                  " nothing compared", file=sys.stderr)
            return 1, None
    result = compare_outputs(attempts[0] / "out", attempts[1] / "out", tolerance, attempts)
    if compare_cache:
        compare_caches(attempts[0] / "cache", attempts[1] / "cache", result, attempts)
    if not any(result.compared[k] for k in KINDS[:3]):
        print("nothing to compare: the command wrote no metrics, model or prediction files",
              file=sys.stderr)
        return 1, result
    return (1 if result.failing else 0), result


# ---------------------------------------------------------------------------------------------
# Command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        print(f"usage error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options before ``--``, the command after it."""
    if "--" in argv:
        cut = argv.index("--")
        own, command = argv[:cut], argv[cut + 1:]
    else:
        own, command = argv, []
    p = _Parser(prog="python scripts/check_reproducible.py",
                usage="%(prog)s [options] -- COMMAND...", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tolerance", type=float, default=None, metavar="X",
                   help="numbers (metrics, table cells, tensors) within X of each other count "
                        "as equal (default: exact)")
    p.add_argument("--keep", action="store_true", help="keep both attempts' folders")
    p.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                   help="where the attempts go (an empty or new folder; kept). Default: a new "
                        "temporary folder, removed at the end unless --keep")
    p.add_argument("--no-cache-compare", dest="compare_cache", action="store_false",
                   help="do not compare the two caches' files")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the comparison as JSON")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="stop an attempt after S seconds (a failure)")
    p.add_argument("--second-env", action="append", default=[], metavar="KEY=VALUE",
                   help="set KEY=VALUE for the second attempt only (repeatable), e.g. "
                        "OMP_NUM_THREADS=1: how far does the result move with it")
    args = p.parse_args(own)
    if args.tolerance is not None and not args.tolerance >= 0:
        p.error("--tolerance must be a number >= 0")
    bad = [item for item in args.second_env if "=" not in item or item.startswith("=")]
    if bad:
        p.error(f"--second-env takes KEY=VALUE, not {bad[0]!r}")
    args.second_env = dict(item.split("=", 1) for item in args.second_env)
    return args, command


def main(argv: list[str] | None = None) -> int:
    args, command = parse_args(sys.argv[1:] if argv is None else argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="check-reproducible-"))
    try:
        rc, result = check(command, work.resolve(), args.tolerance, args.compare_cache,
                           args.timeout, args.second_env)
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(work, ignore_errors=True)
    if result is None:
        return rc
    if result.differences:
        print(table(result.differences))
    if args.json:
        args.json.write_text(json.dumps(as_json(result, args.tolerance), indent=1) + "\n")
    print(verdict(result, args.tolerance))
    if args.keep or args.workdir:
        print(f"attempts kept in {work}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
