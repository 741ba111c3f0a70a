"""Shared cache entries are built once, by one process, and only ever published whole; a folder
missing its parts (as torch.distributed ranks used to leave) is rebuilt with one line saying so."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from socio_re.data.cache import COMPLETE_MARKER, IncompleteBuild, build_once, files_present


def _slow_counting_build(target: str, counter: str) -> None:
    def build(tmp: Path) -> None:
        with open(counter, "a") as f:  # one line per build that actually ran
            f.write("built\n")
        time.sleep(1.0)  # long enough for the other process to arrive while this one builds
        (tmp / "data.txt").write_text("x")

    build_once(target, build, check=files_present("data.txt"))


def test_concurrent_processes_build_an_entry_once(tmp_path):
    target, counter = tmp_path / "entry", tmp_path / "builds.txt"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_slow_counting_build, args=(str(target), str(counter)))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert counter.read_text().splitlines() == ["built"]
    assert (target / "data.txt").read_text() == "x" and (target / COMPLETE_MARKER).exists()


def test_a_build_that_fails_its_check_is_never_published(tmp_path):
    target = tmp_path / "entry"
    with pytest.raises(IncompleteBuild, match=r"no weights\.bin"):
        build_once(target, lambda tmp: (tmp / "tokenizer.json").write_text("{}"),
                   check=files_present("weights.bin"))
    assert not target.exists()
    assert not list(tmp_path.glob(".entry.building-*"))  # no temporary folder left either


def test_a_published_folder_missing_its_parts_is_rebuilt_with_one_line(tmp_path, caplog):
    target = tmp_path / "entry"
    target.mkdir()
    (target / COMPLETE_MARKER).write_text("{}")  # marked complete, but holds nothing
    caplog.set_level(logging.INFO)
    build_once(target, lambda tmp: (tmp / "weights.bin").write_text("w"),
               check=files_present("weights.bin"))
    assert (target / "weights.bin").read_text() == "w"
    lines = [r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(lines) == 1 and "no weights.bin" in lines[0] and str(target) in lines[0]


def _break_like_a_second_rank(folder: Path) -> None:
    """What a rank other than 0 left: the tokenizer and the marker, no config, no weights."""
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        (folder / name).unlink(missing_ok=True)


@pytest.mark.parametrize("damage", ["second_rank", "no_weights", "config_without_model_type"])
def test_a_broken_tiny_model_folder_is_repaired_and_loads(tmp_path, caplog, damage):
    from transformers import AutoModelForCausalLM

    from socio_re.models.tiny import check_model_folder, ensure_built

    folder = ensure_built("tiny_causal", tmp_path / "tiny-causal")
    weights = (folder / "model.safetensors").read_bytes()
    if damage == "second_rank":
        _break_like_a_second_rank(folder)
    elif damage == "no_weights":
        (folder / "model.safetensors").unlink()
    else:
        config = json.loads((folder / "config.json").read_text())
        config.pop("model_type")
        (folder / "config.json").write_text(json.dumps(config))
    assert check_model_folder(folder) is not None

    caplog.set_level(logging.INFO)
    ensure_built("tiny_causal", folder)
    assert check_model_folder(folder) is None
    assert any("incomplete" in r.getMessage() and "rebuilding" in r.getMessage()
               for r in caplog.records)
    # The same seed builds the same weights, and the folder loads like a hub checkpoint.
    assert (folder / "model.safetensors").read_bytes() == weights
    assert AutoModelForCausalLM.from_pretrained(folder).config.model_type == "qwen2"


def test_model_folder_check_names_what_is_missing(tmp_path):
    from socio_re.models.tiny import check_model_folder

    assert check_model_folder(tmp_path) == "no readable config.json"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert check_model_folder(tmp_path) == "no model.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors",
                        "b": "model-00002-of-00002.safetensors"}}))
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"")
    assert check_model_folder(tmp_path) == \
        "missing weight shards model-00002-of-00002.safetensors"
    (tmp_path / "model-00002-of-00002.safetensors").write_bytes(b"")
    assert check_model_folder(tmp_path) == "no tokenizer"
    (tmp_path / "tokenizer.json").write_text("{}")
    assert check_model_folder(tmp_path) is None
