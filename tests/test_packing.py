"""Packed (padding-free) batches keep examples apart: the same per-example losses as one
example at a time, and the same batch loss as dynamic padding."""

from __future__ import annotations

import pytest
from conftest import compose

from socio_re.config.validate import validate_config


@pytest.fixture(scope="module")
def model_and_examples(tiny_causal):
    import torch

    from socio_re.tasks.socrates.formatting import sft_example

    rc, model, tokenizer = tiny_causal
    prompts = [("Age: 34; Gender: Female. How much do you agree? Answer 1 to 7.", 5),
               ("Age: 71. Would you donate? Only return an integer from 0 to 100.", 40),
               ("Ideology: Liberal; Income: $50k. Rate the policy from 1 to 11, nothing else.",
                9)]
    examples = [sft_example(tokenizer, p, r, None, system_prompt=rc.task.system_prompt,
                            include_reasoning=False) for p, r in prompts]
    torch.manual_seed(0)
    return model, tokenizer, examples


def _example_loss(logits, labels):
    import torch

    return torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100,
                                             reduction="sum")


def test_collator_restarts_positions_and_masks_each_first_label():
    from socio_re.training.packing import PackedCausalLMCollator

    batch = PackedCausalLMCollator()([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]},
                                      {"input_ids": [8, 9], "labels": [8, 9]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9]]
    assert "attention_mask" not in batch  # the packed-sequence mask comes from position ids


def test_packed_per_example_losses_equal_one_example_at_a_time(model_and_examples):
    import torch

    from socio_re.training.packing import PackedCausalLMCollator

    model, _, examples = model_and_examples
    with torch.no_grad():
        alone = [_example_loss(model(input_ids=torch.tensor([e["input_ids"]])).logits[0],
                               torch.tensor(e["labels"])) for e in examples]
        batch = PackedCausalLMCollator()(examples)
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits[0]
        # The same row as one long sequence (no position reset): attention crosses examples.
        leaky = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
    start = 0
    for e, expected in zip(examples, alone, strict=True):
        n = len(e["input_ids"])
        labels = torch.tensor(e["labels"])
        assert _example_loss(packed[start:start + n], labels) == pytest.approx(
            float(expected), rel=1e-4, abs=1e-4)
        if start:  # later examples see the earlier ones unless the mask keeps them apart
            assert abs(float(_example_loss(leaky[start:start + n], labels) - expected)) > 1e-3
        start += n


def test_packed_batch_loss_equals_the_dynamically_padded_one(model_and_examples):
    import torch

    from socio_re.training.collate import CausalLMCollator
    from socio_re.training.packing import PackedCausalLMCollator

    model, tokenizer, examples = model_and_examples
    with torch.no_grad():
        padded = model(**CausalLMCollator(tokenizer.pad_token_id)(examples)).loss
        packed = model(**PackedCausalLMCollator()(examples)).loss
    assert float(packed) == pytest.approx(float(padded), rel=1e-4)


def test_packing_is_rejected_where_it_cannot_keep_examples_apart():
    from socio_re.errors import ConfigError

    with pytest.raises(ConfigError, match="group_by_length"):
        validate_config(compose(["task=relext", "trainer.packing=true"]))
    rc = validate_config(compose(["task=socrates", "trainer.packing=true",
                                  "trainer.group_by_length=true"]))
    assert rc.trainer.packing and rc.trainer.group_by_length
