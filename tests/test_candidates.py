"""Candidate scoring reads the model's answer distribution exactly: batched, left-padded, with
the prompt's cache repeated per candidate, it equals scoring each full sequence alone."""

from __future__ import annotations

import numpy as np
import pytest

from socio_re.evaluation.candidates import candidate_values, draw


@pytest.fixture(scope="module")
def tiny(tiny_causal):
    from socio_re.tasks.socrates.formatting import prompt_ids

    rc, model, tokenizer = tiny_causal
    prompts = [prompt_ids(tokenizer, p, rc.task.system_prompt) for p in (
        "Age: 34. How much do you agree? Only return an integer from 1 to 12.",
        "Age: 71; Gender: Male; Ideology: Conservative; Income: $50k. How likely are you to "
        "vote? Only return an integer from 1 to 12, nothing else.")]
    return model, tokenizer, prompts


def _alone(model, tokenizer, prompt: list[int], values: list[int]) -> np.ndarray:
    import torch

    scores = []
    with torch.no_grad():
        for v in values:
            answer = [*tokenizer(str(v), add_special_tokens=False)["input_ids"],
                      tokenizer.eos_token_id]
            seq = torch.tensor([prompt + answer])
            logp = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)
            scores.append(sum(float(logp[len(prompt) + j - 1, t]) for j, t in enumerate(answer)))
    s = np.array(scores)
    p = np.exp(s - s.max())
    return p / p.sum()


def test_batched_candidate_scores_equal_scoring_each_sequence_alone(tiny):
    from socio_re.evaluation.candidates import score_candidates

    model, tokenizer, prompts = tiny
    values = list(range(1, 13))  # 10, 11, 12 are multi-token for this tokenizer or not: both
    probs = score_candidates(model, tokenizer, prompts, [values, values], max_sequences=64)
    for prompt, p in zip(prompts, probs, strict=True):
        assert p.shape == (12,) and p.sum() == pytest.approx(1.0)
        assert p == pytest.approx(_alone(model, tokenizer, prompt, values), abs=1e-4)


def test_rows_without_an_enumerable_scale_are_left_to_generation(tiny):
    from socio_re.evaluation.candidates import score_candidates

    model, tokenizer, prompts = tiny
    assert candidate_values(None) is None and candidate_values((0, 100000)) is None
    assert candidate_values((0, 100)) == list(range(101))
    out = score_candidates(model, tokenizer, prompts, [None, [1, 2]])
    assert out[0] is None and out[1].shape == (2,)


def test_protocol_draw_follows_temperature_and_top_p():
    p = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    # top_p 0.5 keeps only the mode; a tiny temperature concentrates on it too.
    assert {draw(p, [1, 2, 3], temperature=1.0, top_p=0.5, rng=rng) for _ in range(50)} == {1}
    assert {draw(p, [1, 2, 3], temperature=0.01, top_p=1.0, rng=rng) for _ in range(50)} == {1}
    counts = np.bincount([draw(p, [0, 1, 2], temperature=1.0, top_p=1.0, rng=rng)
                          for _ in range(4000)], minlength=3) / 4000
    assert counts == pytest.approx(p, abs=0.03)
    a = [draw(p, [1, 2, 3], temperature=0.6, top_p=0.9, rng=np.random.default_rng(7))
         for _ in range(5)]
    assert a == [draw(p, [1, 2, 3], temperature=0.6, top_p=0.9, rng=np.random.default_rng(7))
                 for _ in range(5)]
