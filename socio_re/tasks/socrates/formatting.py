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


# Below this many rows one process is faster than starting workers.
PARALLEL_MIN_ROWS = 20_000


def tokenize_frame(tokenizer, df, *, system_prompt: str, include_reasoning: bool,
                   max_length: int, num_proc: int | None = None,
                   min_parallel_rows: int = PARALLEL_MIN_ROWS) -> tuple[dict[str, list],
                                                                        dict[str, int]]:
    """Tokenize a split; rows longer than max_length are dropped (truncating would cut the
    profile or the question) and counted in the returned stats.

    Large splits are cut into chunks tokenized by ``num_proc`` worker processes (default: all
    cores): the chat template is rendered in Python, one row at a time, so one core is the
    bottleneck otherwise. The result is the same, in the same order."""
    import os

    reasoning = df["reasoning"] if "reasoning" in df else [None] * len(df)
    rows = list(zip(df["prompt"], df["response"], reasoning, df["sample_id"], strict=True))
    workers = num_proc or os.cpu_count() or 1
    if workers > 1 and len(rows) >= min_parallel_rows:
        cols = _tokenize_parallel(tokenizer, rows, workers, system_prompt=system_prompt,
                                  include_reasoning=include_reasoning, max_length=max_length)
    else:
        cols = _tokenize_rows(tokenizer, rows, system_prompt, include_reasoning, max_length,
                              progress=True)
    lengths = [len(x) for x in cols["input_ids"]]
    stats = {
        "rows": len(df),
        "kept": len(lengths),
        "dropped_too_long": len(df) - len(lengths),
        "max_tokens": max(lengths, default=0),
        "mean_tokens": round(sum(lengths) / len(lengths), 1) if lengths else 0,
    }
    return cols, stats


def _tokenize_rows(tokenizer, rows, system_prompt: str, include_reasoning: bool,
                   max_length: int, progress: bool = False) -> dict[str, list]:
    from tqdm.auto import tqdm

    cols: dict[str, list] = {"input_ids": [], "labels": [], "sample_id": []}
    for prompt, response, rationale, sample_id in tqdm(
        rows, total=len(rows), desc="tokenizing", unit="row", leave=False, mininterval=1.0,
        disable=not progress,
    ):
        ex = sft_example(tokenizer, prompt, response, rationale, system_prompt=system_prompt,
                         include_reasoning=include_reasoning)
        if len(ex["input_ids"]) > max_length:
            continue
        cols["input_ids"].append(ex["input_ids"])
        cols["labels"].append(ex["labels"])
        cols["sample_id"].append(int(sample_id))
    return cols


def _tokenize_chunk(args) -> dict[str, list]:
    return _tokenize_rows(*args)


def _tokenize_parallel(tokenizer, rows, workers: int, **kwargs) -> dict[str, list]:
    """Chunks to spawned workers (not forked: the parent may hold threads of torch and the
    Rust tokenizer), results concatenated in chunk order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    n_chunks = workers * 8  # small enough to balance, large enough to amortise pickling
    size = -(-len(rows) // n_chunks)
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    args = [(tokenizer, c, kwargs["system_prompt"], kwargs["include_reasoning"],
             kwargs["max_length"]) for c in chunks]
    cols: dict[str, list] = {"input_ids": [], "labels": [], "sample_id": []}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for part in tqdm(pool.map(_tokenize_chunk, args), total=len(args), leave=False,
                         desc=f"tokenizing ({workers} processes)", unit="chunk"):
            for key in cols:
                cols[key] += part[key]
    return cols
