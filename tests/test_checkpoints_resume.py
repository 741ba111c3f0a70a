"""Resuming picks the newest checkpoint whose files check out, not merely the newest folder (what
transformers' get_last_checkpoint returns): a save cut short is skipped with its reason.

Unit level here, on checkpoints built from real file formats; tests/test_torn_checkpoints.py
tears real run checkpoints and resumes them through train.py."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import save_file
from transformers.trainer_utils import get_last_checkpoint

from socio_re.errors import ConfigError
from socio_re.training.checkpoints import (
    MARKER,
    checkpoint_problem,
    newest_complete_checkpoint,
    resolve_resume,
    write_marker,
)


def _checkpoint(root, step: int, complete: bool = True, marker: bool = False):
    """The files a single-process Trainer save writes, in its order (state last)."""
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, path / "model.safetensors")
    torch.save({"state": {0: torch.zeros(64)}}, path / "optimizer.pt")
    torch.save({"python": 1}, path / "rng_state.pth")
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if marker:
        write_marker(path, step)
    return path


def _truncate(file, keep: int | None = None):
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2 if keep is None else keep])


def test_a_half_written_newest_checkpoint_is_skipped(tmp_path, caplog):
    good = _checkpoint(tmp_path, 8)
    half = _checkpoint(tmp_path, 12, complete=False)
    assert get_last_checkpoint(str(tmp_path)) == str(half)  # the library's answer
    with caplog.at_level(logging.WARNING):
        assert newest_complete_checkpoint(tmp_path) == good
    assert any("checkpoint-12: no trainer_state.json" in r.getMessage() for r in caplog.records)
    assert resolve_resume("auto", tmp_path) == good
    assert resolve_resume("never", tmp_path) is None


def test_numeric_not_lexical_order(tmp_path):
    _checkpoint(tmp_path, 9)
    newest = _checkpoint(tmp_path, 10)
    assert newest_complete_checkpoint(tmp_path) == newest
    assert newest_complete_checkpoint(tmp_path / "missing") is None


# Each tear, with and without the marker: the reason names the file.
TEARS = {
    "truncated state": (lambda p: _truncate(p / "trainer_state.json"), "trainer_state.json"),
    "truncated weights": (lambda p: _truncate(p / "model.safetensors"), "model.safetensors"),
    "weights header only": (lambda p: _truncate(p / "model.safetensors", keep=8),
                            "model.safetensors"),
    "missing optimizer": (lambda p: (p / "optimizer.pt").unlink(), "optimizer"),
    "truncated optimizer": (lambda p: _truncate(p / "optimizer.pt"), "optimizer.pt"),
    "truncated rng": (lambda p: _truncate(p / "rng_state.pth"), "rng_state.pth"),
    "empty directory": (lambda p: [f.unlink() for f in p.iterdir()], "empty directory"),
}


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "no-marker"])
@pytest.mark.parametrize("tear", list(TEARS))
def test_a_torn_checkpoint_is_skipped_for_the_one_before(tmp_path, caplog, tear, marker):
    good = _checkpoint(tmp_path, 4, marker=marker)
    torn = _checkpoint(tmp_path, 6, marker=marker)
    assert checkpoint_problem(torn) is None
    damage, named = TEARS[tear]
    damage(torn)
    problem = checkpoint_problem(torn)
    assert problem is not None and named in problem, problem
    with caplog.at_level(logging.WARNING):
        assert newest_complete_checkpoint(tmp_path) == good
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 1 and "checkpoint-6" in skipped[0] and named in skipped[0]


def test_the_marker_lists_every_file_and_is_written_atomically(tmp_path):
    path = _checkpoint(tmp_path, 3, marker=True)
    listed = json.loads((path / MARKER).read_text())
    assert listed["step"] == 3
    assert set(listed["files"]) == {"model.safetensors", "optimizer.pt", "rng_state.pth",
                                    "trainer_state.json"}
    assert listed["files"]["optimizer.pt"] == (path / "optimizer.pt").stat().st_size
    assert not list(path.glob(f".{MARKER}*"))  # no temp file left behind
    (path / MARKER).write_text('{"files": {')  # a marker cut short is not trusted
    assert MARKER in checkpoint_problem(path)


def test_an_explicit_resume_path_that_is_torn_is_one_line_with_the_reason(tmp_path):
    torn = _checkpoint(tmp_path, 2, marker=True)
    _truncate(torn / "model.safetensors")
    with pytest.raises(ConfigError) as info:
        resolve_resume(str(torn), tmp_path)
    assert "model.safetensors" in str(info.value) and "\n" not in str(info.value)
