"""Chat formatting and tokenization of SocSci rows for SFT and for generation.

The assistant turn is tokenized separately from the prompt so the loss mask is exact for any chat
template, whether or not it carries ``{% generation %}`` markers: labels are -100 on the
system/user part and on padding, and equal to the token ids on the answer and the EOS after it.
"""

from __future__ import annotations

from typing import Any


def prompt_messages(prompt: str, system_prompt: str) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": prompt}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def answer_text(response: int, reasoning: str | None, include_reasoning: bool) -> str:
    if include_reasoning and reasoning:
        return f"{reasoning.strip()}\n{int(response)}"
    return str(int(response))


def prompt_ids(tokenizer, prompt: str, system_prompt: str) -> list[int]:
    """Token ids of the chat prompt up to and including the assistant header."""
    ids = tokenizer.apply_chat_template(
        prompt_messages(prompt, system_prompt),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=False,
    )
    return list(ids)


def sft_example(
    tokenizer,
    prompt: str,
    response: int,
    reasoning: str | None,
    *,
    system_prompt: str,
    include_reasoning: bool,
) -> dict[str, Any]:
    """input_ids/labels for one row: loss only on the answer tokens and the EOS after them."""
    p_ids = prompt_ids(tokenizer, prompt, system_prompt)
    answer = answer_text(response, reasoning, include_reasoning)
    a_ids = [*tokenizer(answer, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    return {
        "input_ids": p_ids + a_ids,
        "labels": [-100] * len(p_ids) + a_ids,
    }


def tokenize_frame(tokenizer, df, *, system_prompt: str, include_reasoning: bool,
                   max_length: int) -> tuple[dict[str, list], dict[str, int]]:
    """Tokenize a split; rows longer than max_length are dropped (truncating would cut the
    profile or the question) and counted in the returned stats."""
    from tqdm.auto import tqdm

    cols: dict[str, list] = {"input_ids": [], "labels": [], "sample_id": []}
    dropped = 0
    reasoning = df["reasoning"] if "reasoning" in df else [None] * len(df)
    rows = zip(df["prompt"], df["response"], reasoning, df["sample_id"], strict=True)
    for prompt, response, rationale, sample_id in tqdm(
        rows, total=len(df), desc="tokenizing", unit="row", leave=False, mininterval=1.0
    ):
        ex = sft_example(tokenizer, prompt, response, rationale, system_prompt=system_prompt,
                         include_reasoning=include_reasoning)
        if len(ex["input_ids"]) > max_length:
            dropped += 1
            continue
        cols["input_ids"].append(ex["input_ids"])
        cols["labels"].append(ex["labels"])
        cols["sample_id"].append(int(sample_id))
    lengths = [len(x) for x in cols["input_ids"]]
    stats = {
        "rows": len(df),
        "kept": len(lengths),
        "dropped_too_long": dropped,
        "max_tokens": max(lengths, default=0),
        "mean_tokens": round(sum(lengths) / len(lengths), 1) if lengths else 0,
    }
    return cols, stats
