"""Full-scale data machinery on small inputs: the sharded full-size generator in the exact
schema, and tokenization across worker processes equal to one process."""

from __future__ import annotations

import pytest


def test_full_scale_generator_writes_bounded_shards_in_the_exact_schema(tmp_path):
    import pyarrow.parquet as pq

    from socio_re.data.socsci import clean_rows, load_socsci
    from socio_re.data.socsci.sample import generate_full_scale
    from socio_re.data.socsci.schema import SCHEMA

    paths = generate_full_scale(tmp_path, rows=3000, num_studies=12, shard_rows=800, seed=1)
    assert [p.name for p in paths] == [f"train-{i:05d}-of-{len(paths):05d}.parquet"
                                       for i in range(len(paths))]
    assert len(paths) >= 3 and all(pq.read_schema(p).equals(SCHEMA) for p in paths)
    df = load_socsci(str(tmp_path))
    assert df["sample_id"].tolist() == list(range(len(df)))
    assert df["study_id"].nunique() == 12
    assert abs(len(df) - 3000) < 0.1 * 3000  # whole participants per study, about rows/studies
    clean, report = clean_rows(df, max_malformed_fraction=0.0)
    assert len(clean) == len(df) and not report.get("malformed")


@pytest.mark.slow
def test_tokenizing_in_worker_processes_equals_one_process(tiny_causal, tmp_path,
                                                            monkeypatch):
    import pandas as pd
    from datasets import load_from_disk

    from socio_re.tasks.socrates import formatting
    from socio_re.tasks.socrates.data import prepare_splits

    rc, _, tokenizer = tiny_causal
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"].head(300)
    frame = pd.concat([frame, frame.assign(prompt=frame["prompt"] + " " * 4000)])  # some too long
    kwargs = dict(system_prompt=rc.task.system_prompt, include_reasoning=False, max_length=512)
    serial, s_stats = formatting.tokenize_frame(tokenizer, frame, **kwargs)
    monkeypatch.setattr(formatting, "CHUNK_ROWS", 70)  # several chunks per worker
    p_stats = formatting.tokenize_to_disk(tokenizer, frame, tmp_path / "ds", num_proc=2,
                                          min_parallel_rows=1, **kwargs)
    ds = load_from_disk(str(tmp_path / "ds"))
    assert {k: ds[k] for k in serial} == serial and p_stats == s_stats
    assert s_stats["kept"] == 300 and s_stats["dropped_too_long"] == 300
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # the chunks are gone
