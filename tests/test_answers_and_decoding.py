"""Answer formats, the rationale's answer line and decoding owned by the task config.

- parse_scale reads SocSci210's enumerated and labelled answer formats and reports an
  open-ended dollar amount as None; the callers (candidate scoring, the uniform baseline, the
  predictions table) take that without crashing.
- With task.include_reasoning=true the training target ends with "Answer: N", evaluation gives
  the model room for the rationale and reads that line only: reproducing the target exactly
  scores 100%.
- Generation ignores the checkpoint's own generation_config (a hub model's top_k=20,
  repetition_penalty=1.05): the same weights decode identically whatever it says.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest

from socio_re.tasks.socrates.answers import (
    enumerated_codes,
    parse_answer,
    parse_final_answer,
    parse_scale,
)

# --------------------------------------------------------------------------- answer formats

DOCTOR = ("Only return 1 for 'Because the doctor felt it was the right thing to do.'; 2 for "
          "'Because the doctor wanted to maintain a strong doctor-patient relationship with "
          "me.'; 3 for 'Because the doctor was hoping I would not file a malpractice lawsuit.', "
          "nothing else.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Did winnings increase (1), decrease (2), or not change (3) it? Only return 1, 2, or 3, "
         "nothing else.", (1, 3)),
        ("Only return 1 or 2, nothing else.", (1, 2)),
        ("Only return 0 or 1.", (0, 1)),
        ("Only return 1, 2, 3, 4 or 5, nothing else.", (1, 5)),
        ("Did you choose it? Only return 1 for Yes or 2 for No.", (1, 2)),
        (DOCTOR, (1, 3)),
        ("Only return 1 for mostly by human activity; 2 for mostly by natural causes; 3 for about "
         "equally by human activity and natural causes; or 4 for global warming has not been "
         "occurring, nothing else.", (1, 4)),
        # a label that reads like a range must not become the scale
        ("How often? Only return 1 for 'between 1 and 5 hours'; 2 for 'between 6 and 10 hours', "
         "nothing else.", (1, 2)),
        ("How much would you pay? Only return an integer representing dollars, nothing else.",
         None),
        ("Suppose you won $5,000. How many dollars would you give? Only return an integer "
         "representing dollars, nothing else.", None),
        # the range form keeps working, labels after the range included
        ("Only return an integer from 1 to 7, where 1 means Extremely unlikely and 7 means "
         "Extremely likely, nothing else.", (1, 7)),
        ("Only return an integer from 1 to 5, nothing else, where 1 means \u201cAgree "
         "strongly,\u201d and 5 means \u201cNot sure.\u201d", (1, 5)),
    ],
)
def test_parse_scale_reads_each_answer_format(text, expected):
    assert parse_scale(text) == expected


def test_enumerated_codes_are_the_listed_codes_only():
    assert enumerated_codes(DOCTOR) == [1, 2, 3]
    assert enumerated_codes("Only return 1 for Yes or 2 for No.") == [1, 2]
    assert enumerated_codes("Only return an integer from 1 to 7, nothing else.") is None
    assert enumerated_codes("Only return an integer representing dollars, nothing else.") is None
    assert enumerated_codes("Only return 1 for Yes.") is None  # one code is no choice
    assert enumerated_codes(None) is None


def test_parse_scale_reads_every_format_the_sample_generator_writes():
    from socio_re.tasks.socrates.data.sample import (
        DOLLAR_SCALE,
        OPEN_DOLLAR_SCALE,
        SCALES,
        answer_instruction,
    )

    for scale in (*SCALES, DOLLAR_SCALE):
        assert parse_scale(f"How much? ({scale.anchors})\n\n{answer_instruction(scale)}") == (
            scale.low, scale.high), scale
    assert {s.form for s in SCALES} == {"range", "listed", "labelled"}
    assert parse_scale(f"How many dollars? ({OPEN_DOLLAR_SCALE.anchors})\n\n"
                       f"{answer_instruction(OPEN_DOLLAR_SCALE)}") is None


def test_open_ended_rows_are_left_to_generation_and_kept_in_the_tables():
    """No candidate set, no stated range: NaN scale columns, the uniform baseline of the cell
    uses its observed human range, nothing crashes."""
    import pandas as pd

    from socio_re.evaluation.candidates import candidate_values
    from socio_re.tasks.socrates.metrics import compute_socrates_metrics

    open_ended = "How many dollars? Only return an integer representing dollars, nothing else."
    assert candidate_values(parse_scale(open_ended)) is None
    assert candidate_values(parse_scale(DOCTOR)) == [1, 2, 3]
    df = pd.DataFrame({"study_id": ["d"] * 4, "condition_num": 0, "task_num": 0,
                       "response": [0, 100, 250, 1000], "prediction": [50, 100, 200, 900],
                       "scale_min": math.nan, "scale_max": math.nan})
    metrics, _ = compute_socrates_metrics(df)
    assert math.isfinite(metrics["wasserstein"]) and math.isfinite(metrics["uniform_wasserstein"])


# --------------------------------------------------------------------------- answer line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("As a 34-year-old liberal, this person leans high.\nAnswer: 5", 5),
        ("Reasoning about 3 things.\nanswer: $1,250", 1250),
        ("**Answer:** 4", 4),
        ("Answer: 2\nOn reflection, for a 71-year-old...\nAnswer: 6", 6),
        # cut off before the answer line: unparseable, never the age it reached
        ("As a 34-year-old liberal respondent who identifies as", None),
        ("As a 71-year-old, so the answer is 3.", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_final_answer_reads_the_answer_line_only(text, expected):
    assert parse_final_answer(text) == expected


def test_reasoning_targets_end_with_the_answer_line():
    from socio_re.tasks.socrates.formatting import answer_text

    why = "As a 52-year-old respondent with 3 children, this person leans high, so 6."
    assert answer_text(6, why, include_reasoning=True) == f"{why}\nAnswer: 6"
    assert answer_text(6, None, include_reasoning=True) == "Answer: 6"
    assert answer_text(6, "  ", include_reasoning=True) == "Answer: 6"
    assert answer_text(6, why, include_reasoning=False) == "6"
    assert parse_final_answer(answer_text(-3, why, include_reasoning=True)) == -3


def test_answer_budget_grows_with_the_rationale():
    from socio_re.tasks.socrates.config import SocratesTaskConfig, answer_budget

    task = SocratesTaskConfig()
    assert answer_budget(task) == task.eval.max_new_tokens == 8
    with_reasons = dataclasses.replace(task, include_reasoning=True)
    assert answer_budget(with_reasons) == task.eval.reasoning_max_new_tokens == 512


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory):
    from socio_re.tasks.socrates.data import generate_sample, load_socsci

    out = tmp_path_factory.mktemp("socsci_small")
    generate_sample(out, num_studies=12, participants_per_study=3)
    return load_socsci(str(out))


def test_a_model_reproducing_its_reasoning_target_scores_100_percent(
        tiny_causal, sample_rows, tmp_path, monkeypatch):
    """evaluate_frame with include_reasoning=true, generation replaced by the exact training
    target of each prompt: every row parses to its response, within the answer budget."""
    import socio_re.evaluation.generate as generate
    from socio_re.tasks.socrates.evaluate import evaluate_frame
    from socio_re.tasks.socrates.formatting import answer_text, prompts_ids

    rc, _, tokenizer = tiny_causal
    task = dataclasses.replace(rc.task, include_reasoning=True,
                               eval=dataclasses.replace(rc.task.eval, decoding="greedy"))
    frame = sample_rows
    assert frame["reasoning"].str.contains(r"\d+-year-old").all()  # numbers besides the answer
    targets = {tuple(ids): answer_text(y, why, include_reasoning=True) for ids, y, why in zip(
        prompts_ids(tokenizer, list(frame["prompt"]), task.system_prompt), frame["response"],
        frame["reasoning"], strict=True)}
    budgets = []

    def reproduce_target(model, tok, prompts, *, max_new_tokens, **kwargs):
        budgets.append(max_new_tokens)
        return [targets[tuple(p)] for p in prompts]

    monkeypatch.setattr(generate, "generate_answers", reproduce_target)
    metrics, _ = evaluate_frame(None, tokenizer, frame, task, tmp_path, prefix="test")
    assert budgets == [task.eval.reasoning_max_new_tokens]
    longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1  # + EOS
                  for t in targets.values())
    assert longest > task.eval.max_new_tokens  # the old budget of 8 cut every rationale
    assert longest <= budgets[0]
    assert metrics["test/unparseable_rate"] == 0
    assert metrics["test/accuracy"] == 1.0 and metrics["test/mae_normalized"] == 0
    assert metrics["test/wasserstein"] == pytest.approx(0.0, abs=1e-12)

    # The same targets cut at the old budget parse to nothing, never to the age they cite.
    cut = [tokenizer.decode(tokenizer(t, add_special_tokens=False)["input_ids"][:8])
           for t in targets.values()]
    assert all(parse_final_answer(c) is None for c in cut)
    assert any(parse_answer(c.splitlines()[-1]) is not None for c in cut)


def test_open_ended_and_enumerated_rows_go_through_score_decoding(tiny_causal, sample_rows,
                                                                 tmp_path):
    """decoding=score on one row per answer format: enumerated rows get their codes scored,
    the open-ended dollar row is generated (as is the 0..5000 one, too wide to enumerate); the
    tables keep NaN scales for the open-ended row."""
    import pandas as pd

    from socio_re.tasks.socrates.evaluate import evaluate_frame

    rc, model, tokenizer = tiny_causal
    task = dataclasses.replace(rc.task, eval=dataclasses.replace(rc.task.eval, decoding="score",
                                                                 batch_size=8))
    closing = sample_rows["stimuli"].str.rsplit("\n\n", n=1).str[-1]
    frame = sample_rows.loc[closing.drop_duplicates().index].reset_index(drop=True)
    opened = frame["stimuli"].str.contains("representing dollars")
    generated = opened | frame["stimuli"].str.contains("from 0 to 5000")
    assert opened.sum() == 1 and generated.sum() == 2 and len(frame) >= 7
    metrics, files = evaluate_frame(model, tokenizer, frame, task, tmp_path, prefix="test")

    preds = pd.read_csv(files["predictions"])
    assert preds.loc[opened, ["scale_min", "scale_max"]].isna().all().all()
    assert preds.loc[~opened, ["scale_min", "scale_max"]].notna().all().all()
    assert preds.loc[generated, "pred_distribution"].isna().all()
    assert preds.loc[~generated, "pred_distribution"].notna().all()
    two_codes = frame["stimuli"].str.contains("1 for No or 2 for Yes")
    assert preds.loc[two_codes, "pred_mode"].isin([1, 2]).all()
    assert metrics["test/scored_rate"] == pytest.approx(1 - 2 / len(frame))


# --------------------------------------------------------------------------- decoding


PROMPTS = ("Age: 34. How much do you agree? Only return an integer from 1 to 7, nothing else.",
           "Age: 71; Income: $50,000. How likely are you to vote? Only return 1, 2, or 3.",
           "How many dollars would you give? Only return an integer representing dollars.")


@pytest.fixture(scope="module")
def twins(tiny_causal):
    """The same weights twice: one with a clean generation_config, one carrying a hub model's
    defaults (Qwen2.5-Instruct's top_k=20 and repetition_penalty=1.05) plus a suppressed token,
    a field with no neutral value but None."""
    from transformers import GenerationConfig

    from socio_re.tasks.socrates.formatting import prompt_ids

    rc, model, tokenizer = tiny_causal
    prompts = [prompt_ids(tokenizer, p, rc.task.system_prompt) for p in PROMPTS]
    clean = copy.deepcopy(model)
    clean.generation_config = GenerationConfig()
    first_greedy = _old_style(clean, tokenizer, prompts[0], do_sample=False)[0]
    hub = copy.deepcopy(model)
    hub.generation_config = GenerationConfig(top_k=20, repetition_penalty=1.05, temperature=0.7,
                                             top_p=0.8, suppress_tokens=[first_greedy],
                                             max_new_tokens=2)
    return clean, hub, tokenizer, prompts


def _old_style(model, tokenizer, prompt, **kwargs):
    """Generation with kwargs layered on the model's generation_config (the old way)."""
    import torch

    torch.manual_seed(0)
    ids = torch.tensor([prompt])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8,
                         pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, **kwargs)
    return out[0, len(prompt):].tolist()


def test_the_hub_defaults_would_change_the_output_if_honoured(twins):
    """What the next test guards against: kwargs on top of the model's config pick up its
    top_k, repetition penalty and suppressed token."""
    clean, hub, tokenizer, prompts = twins
    assert _old_style(clean, tokenizer, prompts[0], do_sample=False) != _old_style(
        hub, tokenizer, prompts[0], do_sample=False)
    sampled = dict(do_sample=True, temperature=0.6, top_p=0.9)
    assert [_old_style(clean, tokenizer, p, **sampled) for p in prompts] != [
        _old_style(hub, tokenizer, p, **sampled) for p in prompts]


@pytest.mark.parametrize("decoding", ["greedy", "sample"])
def test_generation_ignores_the_models_own_generation_config(twins, decoding):
    from socio_re.evaluation.generate import generate_answers

    clean, hub, tokenizer, prompts = twins
    kwargs = dict(decoding=decoding, temperature=0.6, top_p=0.9, max_new_tokens=8, seed=3,
                  batch_size=2)
    a = generate_answers(clean, tokenizer, prompts, **kwargs)
    b = generate_answers(hub, tokenizer, prompts, **kwargs)
    assert a == b and any(a)
    assert hub.generation_config.top_k == 20  # the model's own config is back afterwards


def test_a_peft_wrapped_model_ignores_its_base_generation_config(twins):
    """LoRA starts as the identity (B = 0), so the wrapped model decodes as its base."""
    from peft import LoraConfig, get_peft_model

    from socio_re.evaluation.generate import generate_answers

    clean, hub, tokenizer, prompts = twins
    wrapped = get_peft_model(copy.deepcopy(hub), LoraConfig(r=2, target_modules=["q_proj"]))
    kwargs = dict(decoding="sample", temperature=0.6, top_p=0.9, max_new_tokens=6, seed=1)
    assert generate_answers(wrapped, tokenizer, prompts, **kwargs) == generate_answers(
        clean, tokenizer, prompts, **kwargs)


def test_decoding_config_sets_every_sampling_field():
    from socio_re.evaluation.generate import decoding_config

    sample = decoding_config(decoding="sample", temperature=0.6, top_p=0.9, max_new_tokens=8,
                             pad_token_id=0, eos_token_id=1)
    assert (sample.do_sample, sample.temperature, sample.top_p, sample.top_k) == (
        True, 0.6, 0.9, 0)
    assert (sample.repetition_penalty, sample.no_repeat_ngram_size, sample.min_new_tokens,
            sample.max_new_tokens, sample.num_beams) == (1.0, 0, 0, 8, 1)
    greedy = decoding_config(decoding="greedy", temperature=0.6, top_p=0.9, max_new_tokens=8,
                             pad_token_id=0, eos_token_id=1)
    assert greedy.do_sample is False and greedy.repetition_penalty == 1.0
    greedy.validate(strict=True)  # no sampling field set where it would be ignored
    sample.validate(strict=True)
