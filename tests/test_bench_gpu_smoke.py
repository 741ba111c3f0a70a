"""The GPU benchmark's code path on the CPU (tiny shapes): every model/finetune/batching branch
runs, trains and records its figures beside the seed-padding baseline. The GPU figures
themselves come from running it on a GPU machine; nothing here asserts a speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_bench_gpu_smoke_records_every_branch_beside_its_baseline(tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--smoke", "--out",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "gpu_smoke.json").read_text())["rows"]
    whats = [r["what"] for r in rows]
    for finetune in ("full", "lora"):
        for mode in ("dynamic padding", "packed"):
            speed = [r for r in rows if f"smoke {finetune}, fp32" in r["what"]
                     and mode in r["what"] and r["unit"] == "real tokens/s"]
            assert len(speed) == 1, whats
            assert speed[0]["value"] > 0 and speed[0]["baseline_value"] > 0
            assert speed[0]["ratio"] == speed[0]["value"] / speed[0]["baseline_value"]
    mfu = [r for r in rows if r["unit"] == "MFU"]
    assert len(mfu) == 4 and all(0 < r["value"] < 1 for r in mfu)


@pytest.mark.skipif(_has_cuda(), reason="this machine has a GPU")
def test_bench_gpu_refuses_to_run_without_a_gpu():
    out = subprocess.run([sys.executable, "benchmarks/bench_gpu.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "no CUDA GPU here" in out.stderr
