"""Everything the project builds offline is byte-identical from one build to the next.

Two builds of every cache entry (``tests/build_artifacts.py``: the tiny models and their
tokenizers, the generated samples, the prepared splits and tokenized sets), in two processes
that differ in the hash seed and in every thread count a library reads, into two caches in
different folders; every file's sha256 must match. The digest memo (``file_digests.json``,
absolute paths of this machine by design) and the build locks are not built artifacts.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOT_ARTIFACTS = {"file_digests.json"}


def _build(cache: Path, env: dict[str, str]) -> None:
    out = subprocess.run([sys.executable, str(HERE / "build_artifacts.py")], capture_output=True,
                         text=True, timeout=1800,
                         env={**os.environ, "SOCIO_RE_CACHE_DIR": str(cache), **env})
    assert out.returncode == 0, out.stderr[-3000:]


def _hashes(cache: Path) -> dict[str, str]:
    return {p.relative_to(cache).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(cache.rglob("*"))
            if p.is_file() and ".locks" not in p.parts and p.name not in NOT_ARTIFACTS}


@pytest.mark.slow
def test_every_built_artifact_is_byte_identical_across_processes_and_thread_counts(tmp_path):
    first, second = tmp_path / "first" / "cache", tmp_path / "elsewhere" / "cache2"
    _build(first, {"PYTHONHASHSEED": "1", "RAYON_NUM_THREADS": "2", "OMP_NUM_THREADS": "2",
                   "MKL_NUM_THREADS": "2"})
    _build(second, {"PYTHONHASHSEED": "4242", "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1"})
    a, b = _hashes(first), _hashes(second)
    # Every kind of entry was built (a builder that silently built nothing would pass).
    for entry in ("models/tiny-causal-", "models/tiny-decoder-", "models/tiny-encoder-",
                  "data/socsci210-sample-", "data/litcoin-sample-", "data/litcoin-realsize-",
                  "prepared/socsci-split-", "prepared/socsci-sft-", "prepared/relext-"):
        assert any(name.startswith(entry) for name in a), (entry, sorted(a)[:20])
    assert any(name.endswith("tokenizer.json") for name in a)
    assert any(name.endswith("model.safetensors") for name in a)
    assert sorted(a) == sorted(b)
    differing = sorted(name for name in a if a[name] != b[name])
    assert not differing, differing
