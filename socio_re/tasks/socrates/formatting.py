"""Chat formatting and tokenization of SocSci rows for SFT and for generation.

The assistant turn is tokenized separately from the prompt so the loss mask is exact for any chat
template, whether or not it carries ``{% generation %}`` markers: labels are -100 on the
system/user part and on padding, and equal to the token ids on the answer and the EOS after it.
"""

from __future__ import annotations

from typing import Any

from socio_re.tasks.socrates.answers import ANSWER_PREFIX


def prompt_messages(prompt: str, system_prompt: str) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": prompt}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def answer_text(response: int, reasoning: str | None, include_reasoning: bool) -> str:
    """The assistant turn: the bare integer, or with ``include_reasoning`` the rationale (when
    the row has one) followed by an explicit answer line, "<rationale>\\nAnswer: 5".

    The answer line is what evaluation reads (``parse_final_answer``): a rationale cites other
    numbers (the respondent's age, income), so "the last number" is not the answer. A row
    without a rationale still gets the answer line, so every target ends the same way.
    """
    if not include_reasoning:
        return str(int(response))
    answer = f"{ANSWER_PREFIX} {int(response)}"
    rationale = (reasoning or "").strip()
    return f"{rationale}\n{answer}" if rationale else answer


def prompt_ids(tokenizer, prompt: str, system_prompt: str) -> list[int]:
    """Token ids of the chat prompt up to and including the assistant header."""
    return prompts_ids(tokenizer, [prompt], system_prompt)[0]


def prompts_ids(tokenizer, prompts, system_prompt: str, encoder=None) -> list[list[int]]:
    """:func:`prompt_ids` of many prompts: the ids ``apply_chat_template(tokenize=True)`` gives
    (it renders, then tokenizes without special tokens), rendered in Python and tokenized in
    batch through ``encoder`` (a :class:`~socio_re.data.encodings.PieceCachedEncoder`, made here
    if not given: reuse one across batches so that repeated lines, such as profile bullets and
    stimuli, are tokenized once)."""
    from socio_re.data.encodings import PieceCachedEncoder

    encoder = encoder or PieceCachedEncoder(tokenizer)
    return encoder(tokenizer.apply_chat_template(
        [prompt_messages(prompt, system_prompt) for prompt in prompts],
        add_generation_prompt=True, tokenize=False))


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
    (p_ids, a_ids), = sft_examples(tokenizer, [(prompt, response, reasoning)],
                                   system_prompt=system_prompt,
                                   include_reasoning=include_reasoning)
    return {"input_ids": p_ids + a_ids, "labels": [-100] * len(p_ids) + a_ids}


def sft_examples(tokenizer, rows, *, system_prompt: str, include_reasoning: bool,
                 encoder=None) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, answer ids + EOS) of many rows: the ids :func:`sft_example` gives, from
    batched calls (see :func:`prompts_ids`); the tokenizing, not the template, is what costs."""
    from socio_re.data.encodings import PieceCachedEncoder

    encoder = encoder or PieceCachedEncoder(tokenizer)
    p_ids = prompts_ids(tokenizer, [prompt for prompt, *_ in rows], system_prompt, encoder)
    a_ids = encoder([answer_text(response, why, include_reasoning)
                     for _, response, why, *_ in rows])
    eos = tokenizer.eos_token_id
    return [(p, [*a, eos]) for p, a in zip(p_ids, a_ids, strict=True)]


# Below this many rows one process is faster than starting workers.
PARALLEL_MIN_ROWS = 20_000
# Rows a worker tokenizes and writes at a time: bounds memory whatever the split's size.
CHUNK_ROWS = 10_000
# Rows per batched tokenizer call: large enough to amortise the call, small for the progress bar.
BATCH_ROWS = 1_000


def tokenize_frame(tokenizer, df, *, system_prompt: str, include_reasoning: bool,
                   max_length: int) -> tuple[dict[str, list], dict[str, int]]:
    """Tokenize a split in memory; rows longer than max_length are dropped (truncating would
    cut the profile or the question) and counted in the returned stats."""
    cols = _tokenize_rows(tokenizer, _rows(df), system_prompt, include_reasoning, max_length,
                          progress=True)
    return cols, _stats(len(df), [len(x) for x in cols["input_ids"]])


def tokenize_to_disk(tokenizer, source, out_dir, *, system_prompt: str, include_reasoning: bool,
                     max_length: int, num_proc: int | None = None,
                     min_parallel_rows: int = PARALLEL_MIN_ROWS) -> dict[str, int]:
    """Tokenize a split into ``out_dir`` (read it back with :func:`load_tokenized`); returns
    the stats. ``source`` is a DataFrame or the parquet parts of a prepared split.

    Large splits go in chunks (CHUNK_ROWS rows of a frame, or one parquet row group, which the
    worker reads itself) to ``num_proc`` spawned workers (default: every core; not forked, the
    parent may hold torch and tokenizer threads). Each worker writes its chunk as an Arrow
    dataset under ``out_dir/chunks`` and returns only its lengths; the chunks are the result
    (memory-mapped and concatenated when loaded), so neither the parent nor a worker ever
    holds more than a chunk, and nothing is copied a second time. The chat template is
    rendered in Python one row at a time, which is why one core would be the bottleneck."""
    import json
    import os
    from pathlib import Path

    import pandas as pd

    out_dir = Path(out_dir)
    workers = num_proc or os.cpu_count() or 1
    in_memory = isinstance(source, pd.DataFrame)
    specs, n_rows = ([], len(source)) if in_memory else _row_groups(source)
    if workers <= 1 or n_rows < min_parallel_rows:
        frame = source if isinstance(source, pd.DataFrame) else _read_parts(source)
        cols, stats = tokenize_frame(tokenizer, frame, system_prompt=system_prompt,
                                     include_reasoning=include_reasoning, max_length=max_length)
        _save(cols, out_dir)
        return stats
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    if in_memory:
        rows = _rows(source)
        specs = [rows[i:i + CHUNK_ROWS] for i in range(0, n_rows, CHUNK_ROWS)]
    chunks = out_dir / "chunks"
    chunks.mkdir(parents=True, exist_ok=True)
    jobs = [(tokenizer, spec, system_prompt, include_reasoning, max_length,
             str(chunks / f"{i:06d}")) for i, spec in enumerate(specs)]
    lengths: list[int] = []
    written: list[str] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        for job, part in tqdm(zip(jobs, pool.map(_tokenize_chunk_to_disk, jobs), strict=True),
                              total=len(jobs), desc=f"tokenizing ({workers} processes)",
                              unit="chunk", leave=False):
            lengths += part
            if part:  # a chunk whose rows were all too long wrote nothing loadable
                written.append(Path(job[-1]).name)
    if not written:
        _save({"input_ids": [], "labels": [], "sample_id": []}, chunks / "empty")
        written.append("empty")
    (out_dir / CHUNKS_INDEX).write_text(json.dumps(written) + "\n")
    return _stats(n_rows, lengths)


CHUNKS_INDEX = "chunks.json"


def load_tokenized(path):
    """The dataset :func:`tokenize_to_disk` wrote: one directory, or its chunks concatenated
    (memory-mapped, no copy)."""
    import json
    from pathlib import Path

    from datasets import concatenate_datasets, load_from_disk

    path = Path(path)
    index = path / CHUNKS_INDEX
    if not index.exists():
        return load_from_disk(str(path))
    parts = [load_from_disk(str(path / "chunks" / name)) for name in json.loads(index.read_text())]
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def _row_groups(parts) -> tuple[list[tuple[str, int]], int]:
    """(part, row group) of every row group of the parts, and their total rows."""
    import pyarrow.parquet as pq

    specs, n_rows = [], 0
    for part in parts:
        meta = pq.ParquetFile(part).metadata
        specs += [(str(part), g) for g in range(meta.num_row_groups)]
        n_rows += meta.num_rows
    return specs, n_rows


_TEXT_COLUMNS = ["prompt", "response", "reasoning", "sample_id"]


def _read_parts(parts):
    import pandas as pd
    import pyarrow.parquet as pq

    frames = [pq.read_table(p, columns=_present(p)).to_pandas() for p in parts]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=_TEXT_COLUMNS)


def _present(part) -> list[str]:
    import pyarrow.parquet as pq

    names = pq.read_schema(part).names
    return [c for c in _TEXT_COLUMNS if c in names]


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

    from socio_re.data.encodings import PieceCachedEncoder

    encoder = PieceCachedEncoder(tokenizer)
    cols: dict[str, list] = {"input_ids": [], "labels": [], "sample_id": []}
    with tqdm(total=len(rows), desc="tokenizing", unit="row", leave=False, mininterval=1.0,
              disable=not progress) as bar:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start:start + BATCH_ROWS]
            encoded = sft_examples(tokenizer, batch, system_prompt=system_prompt,
                                   include_reasoning=include_reasoning, encoder=encoder)
            for (p_ids, a_ids), row in zip(encoded, batch, strict=True):
                if len(p_ids) + len(a_ids) > max_length:
                    continue
                cols["input_ids"].append(p_ids + a_ids)
                cols["labels"].append([-100] * len(p_ids) + a_ids)
                cols["sample_id"].append(int(row[3]))
            bar.update(len(batch))
    return cols


def _save(cols: dict[str, list], path) -> None:
    """Write the columns as a dataset, token ids as int32 (half the disk and page cache of
    int64; vocabularies are far below 2**31; the collators make int64 tensors). The Arrow
    arrays are built from flat numpy buffers: converting nested Python lists row by row took
    longer than the tokenizing."""
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    table = pa.table({"input_ids": _int32_lists(cols["input_ids"]),
                      "labels": _int32_lists(cols["labels"]),
                      "sample_id": pa.array(cols["sample_id"], type=pa.int64())})
    # An empty table needs one explicit shard: with none, load_from_disk cannot read it back.
    Dataset(InMemoryTable(table)).save_to_disk(str(path), num_shards=1 if not len(table) else None)


def _int32_lists(rows: list[list[int]]):
    import itertools

    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, rows), dtype=np.int32, count=len(rows)), out=offsets[1:])
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32,
                       count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))


def _one_thread() -> None:
    """Worker start: the processes already fill the cores, so the Rust tokenizer's own thread
    pool would only oversubscribe them."""
    import os

    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _tokenize_chunk_to_disk(job) -> list[int]:
    """Worker: tokenize one chunk, write it as a dataset, return its kept lengths."""
    import pyarrow.parquet as pq

    tokenizer, spec, system_prompt, include_reasoning, max_length, path = job
    if isinstance(spec, tuple):  # (parquet part, row group): read here, not in the parent
        part, group = spec
        rows = _rows(pq.ParquetFile(part).read_row_group(group, columns=_present(part))
                     .to_pandas())
    else:
        rows = spec
    cols = _tokenize_rows(tokenizer, rows, system_prompt, include_reasoning, max_length)
    if cols["input_ids"]:
        _save(cols, path)
    return [len(x) for x in cols["input_ids"]]
