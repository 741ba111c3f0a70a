"""Candidate scoring reads the model's answer distribution exactly: batched, left-padded, with
prompt prefixes shared between rows and the candidates as one prefix tree after the prompt (or,
the fallback, the prompt's cache repeated per candidate), it equals scoring each full sequence
alone."""

from __future__ import annotations

import numpy as np
import pytest

from socio_re.evaluation import candidates as cand
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


@pytest.fixture
def batches(monkeypatch):
    """Every tree-scored batch, in order: its groups as (shared prefix, rest of each prompt)."""
    seen: list[list[tuple[list[int], list[list[int]]]]] = []
    score_tree = cand._score_tree

    def spy(model, tokenizer, groups, trie, device):
        seen.append(groups)
        return score_tree(model, tokenizer, groups, trie, device)

    monkeypatch.setattr(cand, "_score_tree", spy)
    return seen


def test_left_padded_rows_of_different_lengths_share_one_tree_batch(tiny, batches):
    model, tokenizer, prompts = tiny
    values = list(range(1, 6))
    together = cand.score_candidates(model, tokenizer, prompts, [values, values])
    [[(prefix, rests)]] = batches  # one batch, one group: the chat preamble runs once
    assert len(prefix) > 10 and len(rests) == 2 and len({len(r) for r in rests}) == 2
    apart = [cand.score_candidates(model, tokenizer, [p], [values])[0] for p in prompts]
    for a, b in zip(together, apart, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_rows_sharing_a_profile_share_its_prefix_and_score_as_alone(tiny_causal, batches):
    """Two profiles × two questions, and a one-token prompt that shares nothing: one batch of
    three groups with prefixes of different lengths (left-padded, one empty)."""
    from socio_re.tasks.socrates.formatting import prompt_ids

    rc, model, tokenizer = tiny_causal
    # Profiles longer than the system prompt, as in SocSci: sharing one beats sharing both.
    profiles = ["Age: 34\n- Gender: Female\n- Education: Bachelor's degree\n- Employment: "
                "Full-time\n- Income: $50,000 to $74,999\n- Location: Ohio\n- Household size: 3",
                "Age: 71\n- Gender: Male\n- Education: High school\n- Employment: Retired\n- "
                "Ideology: Conservative\n- Location: Texas\n- Marital status: Married"]
    questions = ["How much do you agree? Only return an integer from 1 to 7.",
                 "How likely are you to vote? 1 = not at all, 7 = certainly."]
    prompts = [prompt_ids(tokenizer, f"{p} {q}", rc.task.system_prompt)
               for p in profiles for q in questions] + [[tokenizer.eos_token_id]]
    values = list(range(1, 8))
    probs = cand.score_candidates(model, tokenizer, prompts, [values] * len(prompts))
    [groups] = batches
    assert sorted(len(rests) for _, rests in groups) == [1, 2, 2]
    assert len({len(prefix) for prefix, _ in groups}) == 3
    assert min(len(prefix) for prefix, _ in groups) == 0
    for prompt, p in zip(prompts, probs, strict=True):
        assert np.log(p) == pytest.approx(np.log(_alone(model, tokenizer, prompt, values)),
                                          abs=1e-4)


def test_multi_token_candidates_equal_scoring_each_sequence_alone(tiny, batches):
    """0..100: one, two and three tokens per answer, prefixes shared in the tree."""
    model, tokenizer, prompts = tiny
    values = list(range(101))
    answers = [cand._answer_ids(tokenizer, v) for v in values]
    assert {len(a) for a in answers} == {1, 2, 3}
    trie = cand._Trie(answers, tokenizer.eos_token_id)
    assert len(trie.tokens) < sum(len(a) for a in answers)  # "1" of "1", "10".."19" runs once
    probs = cand.score_candidates(model, tokenizer, prompts, [values, values])
    assert [sum(len(rests) for _, rests in b) for b in batches] == [2]
    for prompt, p in zip(prompts, probs, strict=True):
        assert np.log(p) == pytest.approx(np.log(_alone(model, tokenizer, prompt, values)),
                                          abs=1e-4)


def test_eager_attention_scores_as_sdpa_does(tiny, batches):
    import copy

    model, tokenizer, prompts = tiny
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    assert model.config._attn_implementation == "sdpa"
    values = [list(range(0, 21)), list(range(1, 6))]
    sdpa_p = cand.score_candidates(model, tokenizer, prompts, values)
    eager_p = cand.score_candidates(eager, tokenizer, prompts, values)
    assert len(batches) == 4  # both went through the tree
    for a, b in zip(sdpa_p, eager_p, strict=True):
        assert np.log(a) == pytest.approx(np.log(b), abs=1e-4)


def test_a_llama_model_scores_through_the_tree_as_alone(tiny, batches):
    """The other architecture the project fine-tunes (random tiny weights, same tokenizer)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    _, tokenizer, prompts = tiny
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        attn_implementation="sdpa")).eval()
    values = list(range(0, 21))
    probs = cand.score_candidates(llama, tokenizer, prompts, [values, values])
    assert [sum(len(rests) for _, rests in b) for b in batches] == [2]
    for prompt, p in zip(prompts, probs, strict=True):
        assert np.log(p) == pytest.approx(np.log(_alone(llama, tokenizer, prompt, values)),
                                          abs=1e-4)


def test_the_repeated_cache_fallback_gives_the_same_numbers(tiny, monkeypatch):
    from types import SimpleNamespace

    model, tokenizer, prompts = tiny
    values = [list(range(0, 101)), list(range(1, 13))]
    tree = cand.score_candidates(model, tokenizer, prompts, values)
    monkeypatch.setattr(cand, "_tree_supported", lambda model: False)
    repeat = cand.score_candidates(model, tokenizer, prompts, values)
    for a, b in zip(tree, repeat, strict=True):
        assert np.log(a) == pytest.approx(np.log(b), abs=1e-4)
    monkeypatch.undo()
    # Where a custom 4D mask would not hold, the fallback is taken.
    assert cand._tree_supported(model)
    for config in ({"_attn_implementation": "flash_attention_2"},
                   {"_attn_implementation": "sdpa", "sliding_window": 4096},
                   {"_attn_implementation": "sdpa",
                    "layer_types": ["full_attention", "sliding_attention"]}):
        assert not cand._tree_supported(SimpleNamespace(config=SimpleNamespace(**config)))


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
