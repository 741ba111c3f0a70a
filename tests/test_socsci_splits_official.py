"""data.split.kind=official: the paper's splits read from the dataset's metadata/ files."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import compose

from socio_re.errors import DataError
from socio_re.tasks.socrates.data import clean_rows, generate_sample, load_socsci, make_splits
from socio_re.tasks.socrates.data.prepare import read_split, split_to_disk
from socio_re.tasks.socrates.data.sample import split_files
from socio_re.tasks.socrates.data.splits import (
    OFFICIAL_FILES,
    load_official_mapping,
    read_official_mapping,
)

SPLITS = ("train", "val", "test")
GROUP = {"studies": ["study_id"], "tasks": ["study_id", "task_num"],
         "conditions": ["study_id", "condition_num"]}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("official")
    generate_sample(out, num_studies=10, participants_per_study=20, seed=0)
    return out


@pytest.fixture(scope="module")
def sample_df(sample_dir) -> pd.DataFrame:
    return load_socsci(str(sample_dir))


def _mapping(root: Path, which: str) -> dict:
    return json.loads((root / "metadata" / OFFICIAL_FILES[which]).read_text())


def _split_to_disk(src: Path, out: Path, which: str, **kwargs):
    args = dict(revision=None, kind="official", official=which, seed=3, val_fraction=0.2,
                test_fraction=0.2, subset=1.0, max_malformed_fraction=0.0, batch_rows=500)
    return split_to_disk(str(src), out, **{**args, **kwargs})


def _groups(frame: pd.DataFrame, which: str) -> set:
    return set(map(tuple, frame[GROUP[which]].drop_duplicates().to_numpy().tolist()))


def _copy_shards(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for shard in src.glob("*.parquet"):
        shutil.copy(shard, dst / shard.name)
    return dst


def _one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --- the generated sample's split files --------------------------------------------------------


def test_sample_writes_the_three_split_files_deterministically(sample_dir, sample_df, tmp_path):
    studies = _mapping(sample_dir, "studies")
    assert set(studies) == {"seen", "unseen"}
    assert sorted(studies["seen"] + studies["unseen"]) == sorted(sample_df["study_id"].unique())
    assert len(studies["unseen"]) == 2  # 20% of 10 studies
    for which in ("tasks", "conditions"):
        mapping = _mapping(sample_dir, which)
        assert set(mapping) == {"train", "eval"}
        ids = sorted(mapping["train"] + mapping["eval"])
        assert ids == sorted(sample_df["sample_id"])  # every row on exactly one side
        assert abs(len(mapping["eval"]) / len(ids) - 0.25) < 0.05
        # Whole tasks / conditions: a (study, group) cell is on one side only.
        side = sample_df["sample_id"].isin(mapping["eval"])
        assert (sample_df.assign(side=side).groupby(GROUP[which])["side"].nunique() == 1).all()
        # Every study keeps training rows.
        assert set(sample_df.loc[~side, "study_id"]) == set(sample_df["study_id"])

    generate_sample(tmp_path / "again", num_studies=10, participants_per_study=20, seed=0)
    generate_sample(tmp_path / "other", num_studies=10, participants_per_study=20, seed=1)
    for name in OFFICIAL_FILES.values():
        mine = (sample_dir / "metadata" / name).read_bytes()
        assert (tmp_path / "again" / "metadata" / name).read_bytes() == mine
    other = load_socsci(str(tmp_path / "other"))
    columns = {c: other[c].tolist() for c in ("study_id", "sample_id", "task_num",
                                               "condition_num")}
    assert split_files(columns, seed=1) == {
        name: json.loads((tmp_path / "other" / "metadata" / name).read_text())
        for name in OFFICIAL_FILES.values()}


def test_json_shards_next_to_metadata_are_read_without_it(sample_dir, sample_df, tmp_path):
    import pyarrow.parquet as pq

    dst = tmp_path / "jsonl"
    shutil.copytree(sample_dir / "metadata", dst / "metadata")
    for shard in sorted(sample_dir.glob("*.parquet")):
        rows = pq.read_table(shard).to_pylist()
        (dst / shard.with_suffix(".jsonl").name).write_text(
            "".join(json.dumps(r) + "\n" for r in rows))
    pd.testing.assert_frame_equal(load_socsci(str(dst)), sample_df)


# --- the official split reproduces the files -------------------------------------------------


def test_official_studies_split_is_the_participant_mapping(sample_dir, sample_df, tmp_path):
    mapping = _mapping(sample_dir, "studies")
    manifest, _ = _split_to_disk(sample_dir, tmp_path / "out", "studies")
    frames = {name: read_split(tmp_path / "out" / name) for name in SPLITS}

    unseen = sample_df[sample_df["study_id"].isin(mapping["unseen"])]
    assert sorted(frames["test"]["sample_id"]) == sorted(unseen["sample_id"])
    assert set(frames["test"]["study_id"]) == set(mapping["unseen"])
    seen = pd.concat([frames["train"], frames["val"]])
    assert sorted(seen["sample_id"]) == sorted(
        sample_df.loc[sample_df["study_id"].isin(mapping["seen"]), "sample_id"])
    studies = {name: set(frame["study_id"]) for name, frame in frames.items()}
    assert studies["val"] and studies["train"]
    assert not (studies["train"] & studies["val"] or studies["train"] & studies["test"]
                or studies["val"] & studies["test"])
    assert len(studies["val"]) == 2  # val_fraction=0.2 of the 8 seen studies, rounded

    file = sample_dir / "metadata" / "participant_mapping.json"
    assert manifest["kind"] == "official" and manifest["official"] == "studies"
    assert manifest["mapping_file"] == "metadata/participant_mapping.json"
    assert "mapping_source" not in manifest  # a local path: the entry is the same anywhere
    assert manifest["mapping_sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert manifest["group_keys"]["test"] == sorted(mapping["unseen"])
    assert manifest["mapping_coverage"] == {"ids_not_in_data": {"seen": 0, "unseen": 0},
                                            "rows_not_in_mapping": 0}
    assert manifest["rows"] == {name: len(frame) for name, frame in frames.items()}
    json.dumps(manifest)


@pytest.mark.parametrize("which", ["tasks", "conditions"])
def test_official_sample_level_split_is_the_mapping(sample_dir, sample_df, tmp_path, which):
    mapping = _mapping(sample_dir, which)
    manifest, _ = _split_to_disk(sample_dir, tmp_path / "out", which, val_fraction=0.1)
    frames = {name: read_split(tmp_path / "out" / name) for name in SPLITS}

    assert sorted(frames["test"]["sample_id"]) == sorted(mapping["eval"])
    train_side = pd.concat([frames["train"], frames["val"]])
    assert sorted(train_side["sample_id"]) == sorted(mapping["train"])
    ids = [set(frames[name]["sample_id"]) for name in SPLITS]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    groups = {name: _groups(frame, which) for name, frame in frames.items()}
    assert groups["val"] and not groups["train"] & groups["val"]
    assert not groups["test"] & (groups["train"] | groups["val"])  # the file holds out whole
    file = sample_dir / "metadata" / OFFICIAL_FILES[which]
    assert manifest["official"] == which and manifest["mapping_file"] == f"metadata/{file.name}"
    assert manifest["mapping_sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert manifest["test_fraction"] is None


def test_streamed_official_split_equals_the_in_memory_one(sample_dir, sample_df, tmp_path):
    clean, _ = clean_rows(sample_df, max_malformed_fraction=0.0)
    mapping = load_official_mapping(str(sample_dir), "tasks")
    frames, manifest = make_splits(clean, kind="official", seed=3, val_fraction=0.2,
                                   subset=0.5, mapping=mapping)
    streamed, _ = _split_to_disk(sample_dir, tmp_path / "out", "tasks", subset=0.5)
    assert streamed == manifest
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(read_split(tmp_path / "out" / name), frame,
                                      check_dtype=False)
    assert sum(manifest["rows"].values()) == round(0.5 * len(sample_df))


def test_ids_and_rows_that_do_not_match_are_reported(sample_dir, sample_df, caplog):
    mapping = load_official_mapping(str(sample_dir), "studies")
    gone = mapping.train[0]
    df = sample_df[sample_df["study_id"] != gone].copy()
    stray = df["study_id"] == mapping.train[1]
    df.loc[stray, "study_id"] = "ZZZZZ"  # a study the file does not know
    with caplog.at_level(logging.WARNING):
        frames, manifest = make_splits(df, kind="official", seed=0, val_fraction=0.2,
                                       mapping=mapping)
    assert "2 of 8 seen" in caplog.text and "0 of 2 unseen" in caplog.text
    assert f"{int(stray.sum())} of {len(df)} rows" in caplog.text and "dropped" in caplog.text
    assert manifest["mapping_coverage"] == {"ids_not_in_data": {"seen": 2, "unseen": 0},
                                            "rows_not_in_mapping": int(stray.sum())}
    assert "ZZZZZ" not in set(pd.concat(frames.values())["study_id"])


# --- one-line errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "content", "found"),
    [
        ("tasks", {"train": [1, 2], "validation": [3]}, "keys found: train (array), validation"),
        ("tasks", {"train": [1], "eval": [2], "test": [3]}, "keys found: train (array), eval"),
        ("conditions", {"T0A3F": {"train": [0], "eval": [1]}}, "keys found: T0A3F (object)"),
        ("studies", ["A0001", "A0002"], "a JSON array"),
        ("studies", {"seen": "A0001", "unseen": []}, "keys found: seen (string), unseen"),
        ("tasks", {"train": [1.5], "eval": [2]}, "1.5 under 'train', not an integer sample id"),
        ("studies", {"seen": ["A0001"], "unseen": [7]}, "7 under 'unseen', not a study id"),
    ],
)
def test_a_malformed_split_file_is_one_line_naming_file_keys_and_layout(
        tmp_path, which, content, found):
    file = tmp_path / OFFICIAL_FILES[which]
    file.write_text(json.dumps(content))
    with pytest.raises(DataError) as excinfo:
        read_official_mapping(file, which)
    message = _one_line_error(excinfo)
    assert str(file) in message and found in message
    expected = '{"seen": [study_id, ...]' if which == "studies" else '{"train": [sample_id, ...]'
    assert f"expected {expected}" in message


def test_split_file_variants_and_contradictions(tmp_path):
    file = tmp_path / "task_mapping.json"
    file.write_text(json.dumps({"train": ["3", 1], "test": [2]}))  # "test" stands for "eval"
    mapping = read_official_mapping(file, "tasks")
    assert mapping.train.tolist() == [1, 3] and mapping.test.tolist() == [2]
    assert mapping.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    file.write_text(json.dumps({"train": [1, 2], "eval": [2]}))
    with pytest.raises(DataError, match=r"puts 1 ids on both sides \(train and eval\)"):
        read_official_mapping(file, "tasks")
    file.write_text("{not json")
    with pytest.raises(DataError) as excinfo:
        read_official_mapping(file, "tasks")
    assert "task_mapping.json is not valid JSON" in _one_line_error(excinfo)


def test_malformed_file_in_the_dataset_stops_before_reading_rows(sample_dir, tmp_path):
    src = _copy_shards(sample_dir, tmp_path / "src")
    (src / "metadata").mkdir()
    (src / "metadata" / "condition_mapping.json").write_text('{"train": [0], "dev": [1]}')
    with pytest.raises(DataError) as excinfo:
        _split_to_disk(src, tmp_path / "out", "conditions")
    message = _one_line_error(excinfo)
    assert "metadata/condition_mapping.json" in message and "keys found: train" in message
    assert not (tmp_path / "out").exists()


def test_a_missing_metadata_folder_is_one_line_naming_the_file(sample_dir, tmp_path):
    src = _copy_shards(sample_dir, tmp_path / "src")
    with pytest.raises(DataError) as excinfo:
        _split_to_disk(src, tmp_path / "out", "studies")
    message = _one_line_error(excinfo)
    assert str(src / "metadata" / "participant_mapping.json") in message
    assert "download the dataset with its metadata folder" in message


def test_an_offline_hub_id_says_to_download_the_metadata_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as excinfo:
        load_official_mapping("socio-re-test/no-such-dataset", "tasks")
    message = _one_line_error(excinfo)
    assert "metadata/task_mapping.json" in message
    assert "download the dataset with its metadata folder" in message


# --- configuration -----------------------------------------------------------------------------


def test_official_split_composes_validates_and_prepares():
    from socio_re.config.validate import validate_config
    from socio_re.tasks.socrates.data.prepared import prepare_splits, split_shaping

    rc = validate_config(compose(["data.split.kind=official", "debug=smoke", "tracking=none"]))
    assert (rc.data.split.kind, rc.data.split.official) == ("official", "studies")
    tasks = validate_config(compose(["data=socsci210", "data.split.kind=official",
                                     "data.split.official=tasks"]))
    assert tasks.data.split.official == "tasks"
    # The hash splits keep the cache keys they had before the official split existed.
    assert "official" not in split_shaping(validate_config(compose([])).data.split)
    assert split_shaping(rc.data.split)["official"] == "studies"
    assert "test_fraction" not in split_shaping(rc.data.split)

    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    mapping = _mapping(Path(rc.data.path), "studies")
    assert prepared.manifest["kind"] == "official"
    assert prepared.manifest["group_keys"]["test"] == sorted(mapping["unseen"])
    file = Path(rc.data.path) / "metadata" / "participant_mapping.json"
    assert prepared.manifest["mapping_sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()


def test_too_small_a_val_fraction_names_the_training_side(sample_dir, sample_df):
    mapping = load_official_mapping(str(sample_dir), "studies")
    with pytest.raises(DataError, match=r"val split is empty.*training side has 8 studies"):
        make_splits(sample_df, kind="official", val_fraction=0.01, mapping=mapping)
    frames, _ = make_splits(sample_df, kind="official", val_fraction=0.0, mapping=mapping)
    assert len(frames["val"]) == 0 and len(frames["test"]) > 0


def test_a_hub_id_downloads_only_the_split_file(sample_dir, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs))
        return str(sample_dir / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    mapping = load_official_mapping("owner/name", "conditions", revision="v2")
    assert calls == [("owner/name", "metadata/condition_mapping.json",
                      {"repo_type": "dataset", "revision": "v2"})]
    assert mapping.source == "hub:owner/name@v2/metadata/condition_mapping.json"
    file = sample_dir / "metadata" / "condition_mapping.json"
    assert mapping.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
