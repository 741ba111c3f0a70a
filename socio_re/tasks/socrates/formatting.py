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
# Rows a worker tokenizes and writes at a time: bounds memory whatever the split's size.
CHUNK_ROWS = 10_000


def tokenize_frame(tokenizer, df, *, system_prompt: str, include_reasoning: bool,
                   max_length: int) -> tuple[dict[str, list], dict[str, int]]:
    """Tokenize a split in memory; rows longer than max_length are dropped (truncating would
    cut the profile or the question) and counted in the returned stats."""
    cols = _tokenize_rows(tokenizer, _rows(df), system_prompt, include_reasoning, max_length,
                          progress=True)
    return cols, _stats(len(df), [len(x) for x in cols["input_ids"]])


def tokenize_to_disk(tokenizer, df, out_dir, *, system_prompt: str, include_reasoning: bool,
                     max_length: int, num_proc: int | None = None,
                     min_parallel_rows: int = PARALLEL_MIN_ROWS) -> dict[str, int]:
    """Tokenize a split into a ``datasets`` directory at ``out_dir``; returns the stats.

    Large splits go in chunks of CHUNK_ROWS to ``num_proc`` spawned workers (default: every
    core; not forked, the parent may hold torch and tokenizer threads). Each worker writes its
    chunk as Arrow and returns only its lengths; the chunks are then concatenated on disk
    (memory-mapped), so memory stays bounded by a chunk per worker. The chat template is
    rendered in Python one row at a time, which is why one core would be the bottleneck."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from datasets import Dataset, concatenate_datasets, load_from_disk

    out_dir = Path(out_dir)
    workers = num_proc or os.cpu_count() or 1
    if workers <= 1 or len(df) < min_parallel_rows:
        cols, stats = tokenize_frame(tokenizer, df, system_prompt=system_prompt,
                                     include_reasoning=include_reasoning, max_length=max_length)
        Dataset.from_dict(cols).save_to_disk(str(out_dir))
        return stats
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    rows = _rows(df)
    chunks_dir = Path(tempfile.mkdtemp(prefix=".chunks-", dir=out_dir.parent))
    jobs = [(tokenizer, rows[i:i + CHUNK_ROWS], system_prompt, include_reasoning, max_length,
             str(chunks_dir / f"{i // CHUNK_ROWS:06d}")) for i in range(0, len(rows), CHUNK_ROWS)]
    lengths: list[int] = []
    written: list[str] = []
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for job, part in tqdm(zip(jobs, pool.map(_tokenize_chunk_to_disk, jobs),
                                      strict=True), total=len(jobs),
                                  desc=f"tokenizing ({workers} processes)", unit="chunk",
                                  leave=False):
                lengths += part
                if part:  # a chunk whose rows were all too long wrote nothing loadable
                    written.append(job[-1])
        parts = [load_from_disk(path) for path in written]
        merged = concatenate_datasets(parts) if parts else Dataset.from_dict(
            {"input_ids": [], "labels": [], "sample_id": []})
        merged.save_to_disk(str(out_dir))
    finally:
        shutil.rmtree(chunks_dir, ignore_errors=True)
    return _stats(len(df), lengths)


def _rows(df) -> list[tuple]:
    reasoning = df["reasoning"] if "reasoning" in df else [None] * len(df)
    return list(zip(df["prompt"], df["response"], reasoning, df["sample_id"], strict=True))


def _stats(n_rows: int, lengths: list[int]) -> dict[str, int]:
    return {
        "rows": n_rows,
        "kept": len(lengths),
        "dropped_too_long": n_rows - len(lengths),
        "tokens": sum(lengths),
        "max_tokens": max(lengths, default=0),
        "mean_tokens": round(sum(lengths) / len(lengths), 1) if lengths else 0,
    }


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


def _tokenize_chunk_to_disk(job) -> list[int]:
    """Worker: tokenize one chunk, write it as a dataset, return its kept lengths."""
    from datasets import Dataset

    tokenizer, rows, system_prompt, include_reasoning, max_length, path = job
    cols = _tokenize_rows(tokenizer, rows, system_prompt, include_reasoning, max_length)
    if cols["input_ids"]:
        Dataset.from_dict(cols).save_to_disk(path)
    return [len(x) for x in cols["input_ids"]]
