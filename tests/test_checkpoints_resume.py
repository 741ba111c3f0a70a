"""Resuming picks the newest checkpoint whose save finished, not merely the newest folder (what
transformers' get_last_checkpoint returns), so a run preempted mid-save resumes cleanly."""

from __future__ import annotations

import logging

from transformers.trainer_utils import get_last_checkpoint

from socio_re.training.checkpoints import newest_complete_checkpoint, resolve_resume


def _checkpoint(root, step: int, complete: bool):
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"weights")
    if complete:  # the Trainer writes trainer_state.json after the weights
        (path / "trainer_state.json").write_text("{}")
    return path


def test_a_half_written_newest_checkpoint_is_skipped(tmp_path, caplog):
    good = _checkpoint(tmp_path, 8, complete=True)
    half = _checkpoint(tmp_path, 12, complete=False)
    assert get_last_checkpoint(str(tmp_path)) == str(half)  # the library's answer
    with caplog.at_level(logging.WARNING):
        assert newest_complete_checkpoint(tmp_path) == good
    assert any("incomplete" in r.getMessage() for r in caplog.records)
    assert resolve_resume("auto", tmp_path) == good
    assert resolve_resume("never", tmp_path) is None


def test_numeric_not_lexical_order(tmp_path):
    _checkpoint(tmp_path, 9, complete=True)
    newest = _checkpoint(tmp_path, 10, complete=True)
    assert newest_complete_checkpoint(tmp_path) == newest
    assert newest_complete_checkpoint(tmp_path / "missing") is None
