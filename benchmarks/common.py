"""Shared helpers for the benchmarks: compose a run config, time things, record results.

Every benchmark writes ``benchmarks/results/<name>.json``: the command that produced it, the
machine, and rows of (what, value, unit, baseline, baseline value, ratio) measured side by side
in the same process run. ``benchmarks/report.py`` renders them into ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONF_DIR = ROOT / "conf"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def compose_rc(overrides: list[str]):
    """The validated RunConfig ``python train.py <overrides>`` would run."""
    from hydra import compose, initialize_config_dir

    from socio_re.config.validate import validate_config

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return validate_config(cfg)


def socsci_shards(scale: float) -> tuple[Path, float | None]:
    """The directory of generated full-size SocSci210-schema shards at ``scale`` (kept in the
    cache for later runs), and the seconds it took to write them (None: already there)."""
    import subprocess

    out = Path(compose_rc(["task=socrates"]).paths.cache_dir) / "bench" / f"socsci-{scale:g}"
    if any(out.glob("train-*.parquet")):
        return out, None
    start = time.perf_counter()
    subprocess.run([sys.executable, "scripts/make_socsci_fullscale.py", "--out", str(out),
                    "--scale", str(scale)], cwd=ROOT, check=True)
    return out, time.perf_counter() - start


def run_with_peak_memory(argv: list[str], interval: float = 0.2) -> tuple[int, str, str, float]:
    """Run a command; (exit code, stdout, stderr, peak GiB of the whole process tree). The
    peak is the largest sum of PSS over the process and all its descendants, sampled every
    ``interval`` s: workers count once each, and pages shared after a fork are split between
    the processes sharing them, not counted twice (ru_maxrss would give only the largest
    process, and a forked child inherits its parent's high-water mark)."""
    import subprocess
    import tempfile

    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, text=True)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                        total += p.memory_full_info().pss
            except psutil.NoSuchProcess:
                break
            peak = max(peak, total)
            time.sleep(interval)
        proc.wait()
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), peak / 2**30


def machine() -> dict[str, Any]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "gpu": gpu}


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    """Median wall seconds of ``repeats`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def row(what: str, value: float, unit: str, baseline: str | None = None,
        baseline_value: float | None = None, higher_is_better: bool = True) -> dict[str, Any]:
    """One figure with its baseline; ratio > 1 means socio_re is better."""
    ratio = None
    if baseline_value:
        ratio = value / baseline_value if higher_is_better else baseline_value / value
    return {"what": what, "value": value, "unit": unit, "baseline": baseline,
            "baseline_value": baseline_value, "ratio": ratio,
            "higher_is_better": higher_is_better}


def record(name: str, rows: list[dict[str, Any]], notes: str = "",
           results_dir: Path | None = None) -> Path:
    results_dir = results_dir or RESULTS
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    command = "python " + " ".join([str(Path(sys.argv[0]).relative_to(ROOT))
                                    if Path(sys.argv[0]).is_absolute() else sys.argv[0],
                                    *sys.argv[1:]])
    path.write_text(json.dumps({"benchmark": name, "command": command, "machine": machine(),
                                "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows,
                                "notes": notes}, indent=1) + "\n")
    for r in rows:
        ratio = f"  ×{r['ratio']:.2f} vs {r['baseline']}" if r["ratio"] else ""
        print(f"{name}: {r['what']}: {r['value']:.4g} {r['unit']}{ratio}")
    return path


def pad_to(batch: dict[str, Any], width: int, pad_values: dict[str, int]) -> dict[str, Any]:
    """A dynamically padded batch widened to a fixed length (the seed pipelines' padding)."""
    import torch

    out = dict(batch)
    for key, value in pad_values.items():
        t = out[key]
        out[key] = torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)
    return out


def time_train_steps(make_model: Callable[[], Any], batches: list, collate: Callable,
                     lr: float) -> float:
    """Seconds for ``len(batches) - 1`` AdamW steps of a fresh model; the first step is a
    warm-up (allocators, kernels) and not timed."""
    import torch

    torch.manual_seed(0)
    model = make_model().train()
    optim = torch.optim.AdamW(model.parameters(), lr=lr)
    start = 0.0
    for i, b in enumerate(batches):
        if i == 1:
            start = time.perf_counter()
        model(**collate(b)).loss.backward()
        optim.step()
        optim.zero_grad()
    return time.perf_counter() - start
