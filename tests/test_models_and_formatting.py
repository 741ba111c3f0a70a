"""The offline tiny model, the loss mask, the collator, the training arguments, the cache."""

from __future__ import annotations

import json

import pytest
from conftest import compose

from socio_re.config.validate import validate_config
from socio_re.errors import DataError


@pytest.fixture(scope="module")
def tiny(cache_dir):
    from socio_re.models.load import load_causal_lm, load_tokenizer, resolve_model_path

    rc = validate_config(compose([f"paths.cache_dir={cache_dir}"]))
    path = resolve_model_path(rc.model)
    tok = load_tokenizer(rc.model, path)
    return rc, path, tok, load_causal_lm(rc.model, tok, path)


def test_tiny_model_is_built_once_with_safetensors_and_a_chat_template(tiny):
    from pathlib import Path

    from socio_re.models.tiny import ensure_built

    _, path, tok, model = tiny
    files = {p.name for p in Path(path).iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(f.endswith(".bin") for f in files)
    mtime = (Path(path) / "model.safetensors").stat().st_mtime
    assert ensure_built("tiny_causal", path) == Path(path)  # cached: not rebuilt
    assert (Path(path) / "model.safetensors").stat().st_mtime == mtime
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.pad_token_id == tok.pad_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    # Digits are single tokens (as in Qwen), so every answer is spelled digit by digit.
    assert len(tok("2024", add_special_tokens=False)["input_ids"]) == 4


def test_loss_mask_covers_the_answer_and_eos_only(tiny):
    from socio_re.tasks.socrates.formatting import sft_example

    _, _, tok, _ = tiny
    ex = sft_example(tok, "Q? Only return an integer from 1 to 5, nothing else.", 4,
                     "I lean left.", system_prompt="SYS", include_reasoning=False)
    labelled = [t for t, lab in zip(ex["input_ids"], ex["labels"], strict=True) if lab != -100]
    assert tok.decode(labelled) == "4<|im_end|>"
    assert ex["labels"][: len(ex["labels"]) - len(labelled)] == [-100] * (
        len(ex["labels"]) - len(labelled))
    # The labelled part is exactly what the chat template renders for the assistant turn.
    full = tok.apply_chat_template(
        [{"role": "system", "content": "SYS"},
         {"role": "user", "content": "Q? Only return an integer from 1 to 5, nothing else."},
         {"role": "assistant", "content": "4"}], tokenize=False)
    assert full.startswith(tok.decode(ex["input_ids"]))
    with_reason = sft_example(tok, "Q?", 4, "I lean left.", system_prompt="SYS",
                              include_reasoning=True)
    labelled = [t for t, lab in zip(with_reason["input_ids"], with_reason["labels"],
                                    strict=True) if lab != -100]
    assert tok.decode(labelled) == "I lean left.\nAnswer: 4<|im_end|>"


@pytest.mark.parametrize("fast", [True, False])
def test_batched_sft_examples_equal_per_row_chat_template_calls(tiny, monkeypatch, fast):
    """The prepare step's batched tokenizing (one backend call per batch, or the tokenizer's
    own batched calls without a fast backend) gives the ids of apply_chat_template(tokenize=True)
    and tokenizer(answer) called row by row, rationale or not, special tokens in the text too."""
    from socio_re.data import encodings
    from socio_re.tasks.socrates import formatting
    from socio_re.tasks.socrates.data.prepared import prepare_splits

    rc, _, tok, _ = tiny
    monkeypatch.setattr(encodings, "has_backend", lambda t: fast)
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"].head(120)
    rows = list(zip(frame["prompt"], frame["response"], frame["reasoning"], strict=True))
    rows.append(("Say <|im_end|> twice  <|im_end|>\n\n", 3, "  because  "))
    for include_reasoning in (False, True):
        batched = formatting.sft_examples(tok, rows, system_prompt="SYS",
                                          include_reasoning=include_reasoning)
        for (prompt, response, why), (p_ids, a_ids) in zip(rows, batched, strict=True):
            ref_p = tok.apply_chat_template(formatting.prompt_messages(prompt, "SYS"),
                                            add_generation_prompt=True, tokenize=True,
                                            return_dict=False)
            answer = formatting.answer_text(response, why, include_reasoning)
            ref_a = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            assert (p_ids, a_ids) == (list(ref_p), ref_a)
    # The backend's settings are as they were (truncation, padding) for every other caller.
    assert tok.backend_tokenizer.truncation is None and tok.backend_tokenizer.padding is None


def test_collator_pads_dynamically_and_masks_padding():
    from socio_re.training.collate import CausalLMCollator

    batch = CausalLMCollator(pad_token_id=0, pad_to_multiple_of=4)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
         {"input_ids": [5, 6, 7, 8, 9], "labels": [-100, -100, 7, 8, 9]}])
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][0].tolist() == [5, 6, 7, 0, 0, 0, 0, 0]
    assert batch["labels"][0].tolist() == [-100, 6, 7, -100, -100, -100, -100, -100]
    assert batch["attention_mask"].sum(1).tolist() == [3, 5]


@pytest.mark.parametrize(("per_device", "processes", "global_bs", "expected"),
                         [(8, 1, 1024, 128), (8, 4, 1024, 32), (16, 1, None, 3)])
def test_global_batch_size_derives_gradient_accumulation(per_device, processes, global_bs,
                                                         expected):
    from socio_re.training.arguments import gradient_accumulation

    rc = validate_config(compose([f"trainer.per_device_train_batch_size={per_device}",
                                  "trainer.gradient_accumulation_steps=3"]))
    rc.trainer.global_batch_size = global_bs
    assert gradient_accumulation(rc, processes) == expected


def test_prepared_data_is_cached_by_what_shaped_it(tmp_path, tiny):
    from socio_re.tasks.socrates.data.prepared import prepare_splits, tokenized_splits

    rc, _, tok, _ = tiny
    # A cache of its own: the entries counted below must not depend on what other tests left
    # in the session's shared cache (a run with the same split and max_length builds one).
    cache_dir = tmp_path / "cache"
    first = prepare_splits(rc.data, cache_dir)
    again = prepare_splits(rc.data, cache_dir)
    assert again.key == first.key
    for name in ("train", "val", "test"):
        assert again.frames[name]["sample_id"].tolist() == first.frames[name]["sample_id"].tolist()
    rc.data.split.kind = "unseen_tasks"
    other = prepare_splits(rc.data, cache_dir)
    assert other.key != first.key
    assert other.manifest["kind"] == "unseen_tasks"

    rc.task.max_length = 290  # about the mean length: some rows fit, some are dropped
    sets, stats = tokenized_splits(other, tok, rc.task, cache_dir)
    assert max(len(x) for x in sets["train"]["input_ids"]) <= 290
    assert stats["train"]["dropped_too_long"] > 0
    assert stats["train"]["kept"] + stats["train"]["dropped_too_long"] == len(other.frames["train"])
    rc.task.max_length = 16  # nothing fits: an error, and no cache entry is left behind
    with pytest.raises(DataError, match=r"task\.max_length"):
        tokenized_splits(other, tok, rc.task, cache_dir)
    entries = sorted(p.name for p in (cache_dir / "prepared").iterdir() if "sft" in p.name)
    rc.task.max_length = 1024
    tokenized_splits(other, tok, rc.task, cache_dir)
    assert len(sorted(p.name for p in (cache_dir / "prepared").iterdir()
                      if "sft" in p.name)) == len(entries) + 1
    meta = json.loads((cache_dir / "prepared" / entries[0] / ".complete").read_text())
    assert {"split_key", "tokenizer", "system_prompt", "max_length", "version"} <= set(meta)


def test_hub_model_offline_is_one_clear_error():
    from socio_re.errors import ModelLoadError
    from socio_re.models.load import load_tokenizer

    rc = validate_config(compose(["model=qwen2.5-0.5b-instruct"]))
    with pytest.raises(ModelLoadError) as info:
        load_tokenizer(rc.model)
    msg = str(info.value)
    assert "Qwen/Qwen2.5-0.5B-Instruct" in msg and "model.name_or_path=/local/dir" in msg


def test_missing_local_model_dir_is_one_clear_error(tmp_path):
    from socio_re.errors import ModelLoadError
    from socio_re.models.load import resolve_model_path

    rc = validate_config(compose([f"model.name_or_path={tmp_path}/nope"]))
    rc.model.build = None
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model_path(rc.model)
