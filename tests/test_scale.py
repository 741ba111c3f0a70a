"""Full-scale data machinery on small inputs: the sharded full-size generator in the exact
schema, and tokenization across worker processes equal to one process."""

from __future__ import annotations

import pytest


def test_full_scale_generator_writes_bounded_shards_in_the_exact_schema(tmp_path):
    import pyarrow.parquet as pq

    from socio_re.tasks.socrates.data import clean_rows, load_socsci
    from socio_re.tasks.socrates.data.sample import generate_full_scale
    from socio_re.tasks.socrates.data.schema import SCHEMA

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

    from socio_re.tasks.socrates import formatting
    from socio_re.tasks.socrates.data.prepared import prepare_splits

    rc, _, tokenizer = tiny_causal
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"].head(300)
    frame = pd.concat([frame, frame.assign(prompt=frame["prompt"] + " " * 4000)])  # some too long
    kwargs = dict(system_prompt=rc.task.system_prompt, include_reasoning=False, max_length=512)
    serial, s_stats = formatting.tokenize_frame(tokenizer, frame, **kwargs)
    monkeypatch.setattr(formatting, "CHUNK_ROWS", 70)  # several chunks per worker
    p_stats = formatting.tokenize_to_disk(tokenizer, frame, tmp_path / "ds", num_proc=2,
                                          min_parallel_rows=1, **kwargs)
    ds = formatting.load_tokenized(tmp_path / "ds")
    assert {k: ds[k] for k in serial} == serial and p_stats == s_stats
    assert s_stats["kept"] == 300 and s_stats["dropped_too_long"] == 300

    # From the parquet parts of a split: each worker reads its own row groups.
    parts = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    frame.iloc[:250].to_parquet(parts[0], row_group_size=60, index=False)
    frame.iloc[250:].to_parquet(parts[1], row_group_size=60, index=False)
    f_stats = formatting.tokenize_to_disk(tokenizer, parts, tmp_path / "from_parts", num_proc=2,
                                          min_parallel_rows=1, **kwargs)
    ds = formatting.load_tokenized(tmp_path / "from_parts")
    assert {k: ds[k] for k in serial} == serial and f_stats == s_stats


def test_an_empty_split_tokenizes_to_an_empty_dataset_that_loads(tiny_causal, tmp_path):
    from socio_re.tasks.socrates import formatting
    from socio_re.tasks.socrates.data.prepared import prepare_splits

    rc, _, tokenizer = tiny_causal
    empty = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"].head(0)
    stats = formatting.tokenize_to_disk(tokenizer, empty, tmp_path / "ds", system_prompt="S",
                                        include_reasoning=False, max_length=512)
    ds = formatting.load_tokenized(tmp_path / "ds")
    assert len(ds) == 0 and stats["rows"] == 0
    assert ds.features["input_ids"].feature.dtype == "int32"


def _source_with_malformed_rows(root):
    """Full-scale-generator shards plus one shard of typed-but-malformed rows."""
    import numpy as np
    import pyarrow.parquet as pq

    from socio_re.tasks.socrates.data.sample import generate_full_scale

    generate_full_scale(root, rows=3000, num_studies=12, shard_rows=800, seed=3)
    bad = pq.read_table(sorted(root.glob("*.parquet"))[0]).slice(0, 40).to_pandas()
    bad["sample_id"] += 10_000_000
    bad.loc[:4, "prompt"] = ""  # empty_prompt
    bad["response"] = bad["response"].astype("float64")
    bad.loc[5:7, "response"] = np.nan  # missing_response
    bad.loc[8:9, "response"] = 2.5  # non_integer_response
    bad.drop(columns=["demographic"]).to_parquet(root / "zz-extra.parquet", index=False)


@pytest.mark.parametrize("kind,subset", [("unseen_studies", 1.0), ("unseen_participants", 0.7),
                                         ("random", 1.0)])
def test_streamed_split_equals_the_in_memory_split(tmp_path, kind, subset):
    """split_to_disk (two bounded passes, parquet parts) gives row for row what load_socsci +
    clean_rows + make_splits give in memory: same cleaning report, manifest and rows."""
    import pandas as pd

    from socio_re.tasks.socrates.data import clean_rows, load_socsci, make_splits
    from socio_re.tasks.socrates.data.prepare import read_split, split_to_disk

    src = tmp_path / "src"
    _source_with_malformed_rows(src)
    args = dict(kind=kind, seed=5, val_fraction=0.1, test_fraction=0.2, subset=subset)
    clean, report = clean_rows(load_socsci(str(src)), max_malformed_fraction=0.01)
    frames, manifest = make_splits(clean, **args)

    out = tmp_path / "out"
    s_manifest, s_report = split_to_disk(str(src), out, revision=None, batch_rows=700,
                                         max_malformed_fraction=0.01, **args)
    assert s_report == report and report["malformed"] == 10
    assert s_manifest == manifest
    for name, frame in frames.items():
        streamed = read_split(out / name)
        assert len(list((out / name).glob("part-*.parquet"))) > 1
        pd.testing.assert_frame_equal(streamed, frame, check_dtype=False)


def test_streamed_split_threshold_and_sampled_rows(tmp_path):
    import numpy as np

    from socio_re.errors import DataError
    from socio_re.tasks.socrates.data.prepare import read_rows, read_split, split_to_disk
    from socio_re.tasks.socrates.data.prepared import PreparedSplits
    from socio_re.tasks.socrates.evaluate import rows_to_score

    src = tmp_path / "src"
    _source_with_malformed_rows(src)
    args = dict(revision=None, kind="unseen_studies", seed=1, val_fraction=0.1,
                test_fraction=0.2, subset=1.0, batch_rows=500)
    with pytest.raises(DataError, match=r"10 of \d+ rows .* malformed .*max_malformed_fraction"):
        split_to_disk(str(src), tmp_path / "strict", max_malformed_fraction=0.0, **args)
    manifest, report = split_to_disk(str(src), tmp_path / "out", max_malformed_fraction=0.5,
                                     **args)
    test = read_split(tmp_path / "out" / "test")
    picks = np.array([len(test) - 1, 0, len(test) // 2, 3])
    assert read_rows(tmp_path / "out" / "test", picks).equals(
        test.iloc[picks].reset_index(drop=True))
    prepared = PreparedSplits(tmp_path / "out", manifest, report, "k")
    for max_rows in (None, 25, 10_000):
        assert prepared.sample("test", max_rows, 7).equals(rows_to_score(test, max_rows, 7))
