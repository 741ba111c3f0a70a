"""SocSci210 data layer: synthetic sample, loader, row cleaning and held-out splits."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from socio_re.errors import ConfigError, DataError
from socio_re.tasks.socrates.answers import parse_scale
from socio_re.tasks.socrates.data import (
    DEMOGRAPHIC_FIELDS,
    HASH_SPLIT_KINDS,
    SCHEMA,
    check_disjoint,
    clean_rows,
    dataset_fingerprint,
    generate_sample,
    load_socsci,
    make_splits,
)

ANSWER_FORMAT = re.compile(r"Only return [^\n]+, nothing else\.")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("socsci")
    generate_sample(out)
    return out


@pytest.fixture(scope="module")
def sample_df(sample_dir) -> pd.DataFrame:
    return load_socsci(str(sample_dir))


# --- generator -------------------------------------------------------------------------------


def test_generator_writes_hub_schema_and_shard_names(tmp_path):
    paths = generate_sample(tmp_path, num_shards=3)
    assert [p.name for p in paths] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    for path in paths:
        assert pq.read_schema(path).remove_metadata().equals(SCHEMA)
    assert SCHEMA.field("demographic").type.names == list(DEMOGRAPHIC_FIELDS)


def test_generator_is_deterministic(tmp_path, sample_df):
    generate_sample(tmp_path / "again")
    pd.testing.assert_frame_equal(load_socsci(str(tmp_path / "again")), sample_df)
    generate_sample(tmp_path / "other", seed=1)
    assert not load_socsci(str(tmp_path / "other")).equals(sample_df)


def test_generator_design(sample_df):
    df = sample_df
    assert 3000 <= len(df) <= 5000
    assert df["sample_id"].is_unique
    studies = df.groupby("study_id")
    assert studies.ngroups == 12
    assert all(re.fullmatch(r"[A-Z][0-9A-F]{4}", s) for s in studies.groups)
    assert studies["condition_num"].max().max() >= 2 and studies["task_num"].max().max() >= 2
    assert (studies["condition_num"].min() == 0).all() and (studies["task_num"].min() == 0).all()

    closing = df["stimuli"].str.rsplit("\n\n", n=1).str[-1]
    assert closing.str.fullmatch(ANSWER_FORMAT).all(), "every stimulus ends with its format"
    scales = df["stimuli"].map(parse_scale)
    stated = scales.notna()
    low, high = scales[stated].str[0], scales[stated].str[1]
    assert df.loc[stated, "response"].between(low, high).all()
    seen_scales = set(scales[stated])
    assert (0, 5000) in seen_scales and len(seen_scales) >= 5

    # Within-subject: same participant and task, several conditions with different stimuli.
    cell = df.groupby(["study_id", "participant", "task_num"])
    within = cell["condition_num"].nunique() > 1
    assert within.any() and (~within).any()
    assert (cell["stimuli"].nunique()[within] > 1).all()

    demo = pd.DataFrame(df["demographic"].tolist())
    assert list(demo.columns) == list(DEMOGRAPHIC_FIELDS)
    assert demo["age"].between(18, 90).all() and demo["ideology"].notna().all()
    assert demo.isna().any().any(), "some studies leave some fields null"
    first = df.iloc[0]
    assert "- Age: " in first["prompt"] and first["prompt"].endswith(first["stimuli"])


def _answer_form(stimulus: str) -> str:
    closing = stimulus.rsplit("\n\n", 1)[-1]
    if closing.startswith("Only return an integer from"):
        return "range"
    if closing == "Only return an integer representing dollars, nothing else.":
        return "open"
    if re.match(r"Only return \d+, \d+, or \d+", closing):
        return "listed"
    if re.match(r"Only return \d+ for \w+ or \d+ for \w+", closing):
        return "labelled_or"
    if re.match(r"Only return \d+ for '[^']+'; \d+ for '", closing):
        return "labelled_quoted"
    return "other"


def test_generator_emits_every_answer_format_in_realistic_shares(sample_df):
    """Most rows keep "Only return an integer from X to Y"; the enumerated forms and the
    open-ended dollar amount of the real data appear too, and parse_scale reads each one."""
    df = sample_df.assign(form=sample_df["stimuli"].map(_answer_form))
    shares = df["form"].value_counts(normalize=True)
    assert set(shares.index) == {"range", "open", "listed", "labelled_or", "labelled_quoted"}
    assert shares["range"] > 0.6
    scales = df["stimuli"].map(parse_scale)
    for form, rows in df.groupby("form"):
        responses, stated = rows["response"], scales[rows.index]
        if form == "open":  # dollars with no stated range: no scale to enumerate
            assert stated.isna().all() and responses.between(0, 5000).all()
            continue
        assert stated.notna().all(), form
        assert responses.between(stated.str[0], stated.str[1]).all(), form
    enumerated = df["form"].str.startswith(("listed", "labelled"))
    assert set(scales[enumerated]) == {(1, 2), (1, 3), (1, 4)}


def test_responses_depend_on_profile_and_condition(sample_df):
    """Condition + ideology predict held-out participants far better than the cell mean."""
    df = sample_df.assign(ideology=sample_df["demographic"].map(lambda d: d["ideology"]))
    sse_model = sse_mean = 0.0
    for _, g in df.groupby(["study_id", "task_num"]):
        y = g["response"].to_numpy(float)
        y = (y - y.min()) / max(y.max() - y.min(), 1)
        x = np.column_stack(
            [
                pd.get_dummies(g["condition_num"]).to_numpy(float),
                pd.get_dummies(g["ideology"], drop_first=True).to_numpy(float),
            ]
        )
        fit = (g["participant"] % 2 == 0).to_numpy()
        beta = np.linalg.lstsq(x[fit], y[fit], rcond=None)[0]
        sse_model += ((y[~fit] - x[~fit] @ beta) ** 2).sum()
        sse_mean += ((y[~fit] - y[fit].mean()) ** 2).sum()
    assert 1 - sse_model / sse_mean > 0.25


# --- loader ----------------------------------------------------------------------------------


def _write_jsonl(src: Path, dst: Path) -> None:
    dst.mkdir()
    for f in sorted(src.glob("*.parquet")):
        rows = pq.read_table(f).to_pylist()
        (dst / f.with_suffix(".jsonl").name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_loader_parquet_and_jsonl_agree(sample_dir, sample_df, tmp_path):
    _write_jsonl(sample_dir, tmp_path / "jsonl")
    pd.testing.assert_frame_equal(load_socsci(str(tmp_path / "jsonl")), sample_df)
    assert sample_df["response"].dtype == np.int64
    demo = sample_df["demographic"].iloc[0]
    assert isinstance(demo, dict) and isinstance(demo["age"], int)
    # Int fields with nulls stay ints / None (Arrow's to_pandas would give 2.0 / nan).
    sizes = {type(d["household_size"]) for d in sample_df["demographic"]}
    assert sizes <= {int, type(None)}
    one = sorted(sample_dir.glob("*.parquet"))[0]
    assert len(load_socsci(str(one))) == pq.read_metadata(one).num_rows


def test_loader_errors(tmp_path, sample_df):
    with pytest.raises(DataError, match=r"does not exist"):
        load_socsci(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"contains no \.parquet"):
        load_socsci(str(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train-00000-of-00001.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"train-00000-of-00001\.parquet"):
        load_socsci(str(tmp_path / "bad"))
    (tmp_path / "cols").mkdir()
    sample_df.drop(columns=["prompt", "study_id", "demographic"]).head(5).to_parquet(
        tmp_path / "cols" / "x.parquet"
    )
    with pytest.raises(DataError, match=r"missing required column\(s\) prompt, study_id") as e:
        load_socsci(str(tmp_path / "cols"))
    assert "expected SocSci210 columns: sample_id" in str(e.value)


def test_offline_hub_id_gives_actionable_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"data.path=/local/dir") as e:
        load_socsci("socio-re-test/no-such-dataset")
    assert "could not reach the Hugging Face hub" in str(e.value)


def test_hub_id_goes_through_datasets(monkeypatch, sample_dir, sample_df):
    import datasets

    files = [str(p) for p in sorted(sample_dir.glob("*.parquet"))]
    ds = datasets.Dataset.from_parquet(files, cache_dir=str(sample_dir.parent / "ds_cache"))
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or ds)
    pd.testing.assert_frame_equal(load_socsci("owner/name", revision="v2"), sample_df)
    assert calls == [(("owner/name",), {"split": "train", "revision": "v2"})]

    def missing(*args, **kwargs):
        from datasets.exceptions import DatasetNotFoundError

        raise DatasetNotFoundError("Dataset 'owner/gone' doesn't exist on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(DataError, match=r"hub dataset owner/gone was not found"):
        load_socsci("owner/gone")


def test_make_sample_script(tmp_path, capsys):
    import runpy

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_socsci_sample.py"
    main = runpy.run_path(str(script))["main"]
    assert (
        main(["--out", str(tmp_path), "--num-studies", "3", "--participants-per-study", "4"]) == 0
    )
    assert "train-00000-of-00002.parquet" in capsys.readouterr().out
    assert load_socsci(str(tmp_path))["study_id"].nunique() == 3


def test_fingerprint(sample_dir, tmp_path):
    assert dataset_fingerprint("socratesft/SocSci210") == "hub:socratesft/SocSci210@main"
    assert dataset_fingerprint("a/b", revision="v1") == "hub:a/b@v1"
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in sample_dir.glob("*.parquet"):
        (copy / f.name).write_bytes(f.read_bytes())
    before = dataset_fingerprint(str(copy))
    assert dataset_fingerprint(str(copy)) == before
    (copy / "train-00000-of-00002.parquet").write_bytes(b"changed")
    assert dataset_fingerprint(str(copy)) != before


# --- cleaning --------------------------------------------------------------------------------


def _messy_frame() -> pd.DataFrame:
    good = {
        "sample_id": 0,
        "participant": 1,
        "prompt": "p",
        "stimuli": "s",
        "response": 3,
        "condition_num": 0,
        "task_num": 0,
        "study_id": "T0A3F",
    }
    variants = [
        {},                                    # fine
        {"response": 3.0},                     # fine: integer-valued float
        {"response": "4"},                     # fine: integer string
        {"prompt": None},                      # missing_prompt
        {"prompt": "   "},                     # empty_prompt
        {"response": "abc"},                   # non_integer_response
        {"response": 2.5},                     # non_integer_response
        {"response": True},                    # non_integer_response
        {"response": None},                    # missing_response
        {"study_id": 123},                     # non_string_study_id
        {"study_id": None, "prompt": None},    # missing_prompt (first reason wins)
        {"task_num": 1.5},                     # non_integer_task_num
    ]  # fmt: skip
    rows = [{**good, **v, "sample_id": i} for i, v in enumerate(variants)]
    return pd.DataFrame(rows, dtype=object)


def test_clean_rows_counts_each_reason(caplog):
    with caplog.at_level(logging.WARNING):
        clean, report = clean_rows(_messy_frame(), max_malformed_fraction=0.9)
    assert report == {
        "total": 12, "kept": 3, "malformed": 9,
        "by_reason": {"empty_prompt": 1, "missing_prompt": 2, "missing_response": 1,
                      "non_integer_response": 3, "non_integer_task_num": 1,
                      "non_string_study_id": 1},
    }  # fmt: skip
    assert clean["response"].tolist() == [3, 3, 4] and clean["response"].dtype == np.int64
    assert clean["task_num"].dtype == np.int64 and clean["sample_id"].tolist() == [0, 1, 2]
    assert "malformed" in caplog.text


def test_clean_rows_threshold():
    with pytest.raises(DataError, match=r"9 of 12 rows \(75.00%\) are malformed") as e:
        clean_rows(_messy_frame(), max_malformed_fraction=0.5)
    assert "data.max_malformed_fraction=0.5" in str(e.value)
    assert "non_integer_response: 3" in str(e.value)


def test_clean_rows_is_vectorised():
    n = 300_000
    df = pd.DataFrame({
        "sample_id": np.arange(n), "participant": np.arange(n) % 500, "prompt": ["p"] * n,
        "stimuli": ["s"] * n, "response": np.arange(n, dtype=float) % 7,
        "condition_num": np.zeros(n, dtype=int), "task_num": np.zeros(n, dtype=int),
        "study_id": ["T0A3F"] * n,
    })  # fmt: skip
    df.loc[::1000, "response"] = 0.5
    clean, report = clean_rows(df, max_malformed_fraction=0.01)
    assert report["malformed"] == 300 and clean["response"].dtype == np.int64


# --- splits ----------------------------------------------------------------------------------

GROUP_COLUMNS = {
    "random": ["sample_id"],
    "unseen_studies": ["study_id"],
    "unseen_conditions": ["study_id", "condition_num"],
    "unseen_tasks": ["study_id", "task_num"],
    "unseen_participants": ["study_id", "participant"],
}


def _group_set(frame: pd.DataFrame, kind: str) -> set:
    return set(map(tuple, frame[GROUP_COLUMNS[kind]].drop_duplicates().to_numpy().tolist()))


@pytest.mark.parametrize("kind", HASH_SPLIT_KINDS)  # official: its own file of tests
def test_splits_disjoint_complete_deterministic(sample_df, kind):
    splits, manifest = make_splits(sample_df, kind=kind, seed=3)
    sets = {name: _group_set(frame, kind) for name, frame in splits.items()}
    assert all(sets.values()), "every split is non-empty"
    assert not (
        sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"]
    )
    ids = np.sort(np.concatenate([f["sample_id"].to_numpy() for f in splits.values()]))
    np.testing.assert_array_equal(ids, np.sort(sample_df["sample_id"].to_numpy()))
    assert manifest["rows"] == {name: len(f) for name, f in splits.items()}
    assert manifest["groups"] == {name: len(s) for name, s in sets.items()}
    json.dumps(manifest)

    again, manifest_again = make_splits(sample_df, kind=kind, seed=3)
    assert manifest_again == manifest
    pd.testing.assert_frame_equal(again["test"], splits["test"])
    _, other = make_splits(sample_df, kind=kind, seed=4)
    assert other["group_keys_sha256"] != manifest["group_keys_sha256"]


@pytest.mark.parametrize("kind", ["unseen_conditions", "unseen_tasks", "unseen_participants"])
def test_stratified_splits_keep_every_study_in_train(sample_df, kind):
    splits, manifest = make_splits(sample_df, kind=kind, seed=0)
    assert set(splits["train"]["study_id"]) == set(sample_df["study_id"])
    tag = {"unseen_conditions": "/c", "unseen_tasks": "/t", "unseen_participants": "/p"}[kind]
    assert all(tag in key for key in manifest["group_keys"]["test"])
    # Roughly test_fraction of the groups of studies that have >= 2 of them.
    per_study = sample_df.groupby("study_id")[GROUP_COLUMNS[kind][1]].nunique()
    eligible = per_study[per_study >= 2].sum()
    assert abs(manifest["groups"]["test"] - 0.1 * eligible) <= 1


def test_unseen_studies_manifest_and_random_warning(sample_df, caplog):
    _, manifest = make_splits(sample_df, kind="unseen_studies", seed=0)
    assert manifest["groups"] == {"train": 10, "val": 1, "test": 1}
    assert all(len(k) == 5 for keys in manifest["group_keys"].values() for k in keys)
    with caplog.at_level(logging.WARNING):
        _, manifest = make_splits(sample_df, kind="random", seed=0)
    assert "leak" in caplog.text or "nearly every study" in caplog.text
    assert manifest["group_keys"] is None


def test_subset(sample_df):
    splits, manifest = make_splits(sample_df, kind="unseen_participants", subset=0.25, seed=1)
    kept = pd.concat(splits.values())
    assert len(kept) == round(0.25 * len(sample_df)) == sum(manifest["rows"].values())
    assert manifest["rows_before_subset"] == len(sample_df)
    assert set(kept["sample_id"]) <= set(sample_df["sample_id"])
    # The subset does not depend on row order.
    shuffled = sample_df.sample(frac=1.0, random_state=0)
    again, _ = make_splits(shuffled, kind="unseen_participants", subset=0.25, seed=1)
    assert set(pd.concat(again.values())["sample_id"]) == set(kept["sample_id"])


def test_too_few_groups_raise(tmp_path):
    generate_sample(tmp_path, num_studies=3, participants_per_study=5, num_shards=1)
    tiny = load_socsci(str(tmp_path))
    with pytest.raises(DataError, match=r"test split is empty.* has 3 studies") as e:
        make_splits(tiny, kind="unseen_studies")
    assert "data.test_fraction=0.1" in str(e.value)
    # Fractions of zero are allowed: that split is simply empty.
    splits, _ = make_splits(tiny, kind="unseen_studies", val_fraction=0.0, test_fraction=0.34)
    assert len(splits["val"]) == 0 and len(splits["test"]) > 0


def test_bad_arguments(sample_df):
    with pytest.raises(ConfigError, match=r"data.split"):
        make_splits(sample_df, kind="by_magic")
    with pytest.raises(ConfigError, match=r"data.test_fraction"):
        make_splits(sample_df, kind="random", test_fraction=1.5)
    with pytest.raises(ConfigError, match=r"data.val_fraction"):
        make_splits(sample_df, kind="random", val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match=r"data.subset"):
        make_splits(sample_df, kind="random", subset=0.0)


def test_check_disjoint_detects_leak(sample_df):
    study = sample_df["study_id"].iloc[0]
    part = sample_df[sample_df["study_id"] == study]
    with pytest.raises(DataError, match=f"study {study} appears in train and test"):
        check_disjoint({"train": part, "val": part.iloc[:0], "test": part}, "unseen_studies")
    with pytest.raises(DataError, match=r"split leak: row"):
        check_disjoint({"train": part, "val": part.head(1), "test": part.iloc[:0]}, "random")
