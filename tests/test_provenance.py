"""Provenance of a run: the dict and its file, the tags and dataset inputs of the MLflow run,
MLflow's system metrics, and ``compare`` naming the fields two runs differ in.

Unit tests over tiny folders and a temporary git repo (every digest computed again here with
hashlib), one real relext run through ``train.py``, and a compare over a store filled by hand.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import compose, run_train

from socio_re.config.schema import ModelConfig, TrackingConfig
from socio_re.config.validate import validate_config
from socio_re.tracking import make_tracker
from socio_re.tracking.provenance import (
    NOT_INSTALLED,
    PROVENANCE_FILE,
    build_provenance,
    git_state,
    model_provenance,
    package_versions,
    provenance_tags,
    record_provenance,
)

SECTIONS = {"format", "created", "git", "seeds", "data", "model", "platform", "versions"}
MONITOR_THREAD = "SystemMetricsMonitor"  # the name MLflow gives its sampling thread


def sha256_digest(root: Path, files: list[Path] | None = None) -> str:
    """The content digest computed from scratch: sha256 over each file's relative name and the
    sha256 of its bytes, files in sorted order, first 16 hex digits."""
    files = sorted(files if files is not None else
                   [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")])
    outer = hashlib.sha256()
    for f in files:
        inner = hashlib.sha256(f.read_bytes()).hexdigest()
        outer.update(f"{f.relative_to(root).as_posix()}\0{inner}\n".encode())
    return outer.hexdigest()[:16]


def _folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def tiny_rc(tmp_path):
    """A relext config over a tiny corpus folder and a tiny "model" folder (no training)."""
    data = _folder(tmp_path / "corpus", {"abstracts_train.csv": "id\n1\n",
                                         "entities_train.csv": "id\n1\n", "sub/notes.txt": "x"})
    model = _folder(tmp_path / "model", {"config.json": "{}", "weights.bin": "0123",
                                         ".complete": "ignored"})
    rc = validate_config(compose([
        "task=relext", f"data.path={data}", f"model.name_or_path={model}",
        "model.local_package=null", f"paths.cache_dir={tmp_path / 'c'}",
        "seed=7", "data.fold_seed=11"]))
    return rc, data, model


def test_provenance_has_every_section_and_the_content_digests(tiny_rc):
    from socio_re.tasks.relext.run import data_splits

    rc, data, model = tiny_rc
    provenance, datasets = build_provenance(rc, data_splits)
    assert set(provenance) == SECTIONS
    assert provenance["data"]["digest"] == sha256_digest(data)
    assert provenance["model"]["digest"] == sha256_digest(model)  # hidden marker left out
    assert provenance["seeds"]["seed"] == 7 and provenance["seeds"]["data.fold_seed"] == 11
    # Not prepared (no run): the splits say why, the rest is still there.
    assert "error" in provenance["data"]["splits"]
    platform = provenance["platform"]
    assert platform["accelerator"] in {"cpu", "cuda", "mps"}
    assert platform["world_size"] == 1 and platform["cpu_count"] >= 1 and platform["os"]
    versions = provenance["versions"]
    for name in ("torch", "transformers", "peft", "accelerate", "datasets", "tokenizers",
                 "mlflow", "hydra-core", "numpy", "python"):
        assert versions[name] not in ("", NOT_INSTALLED), name
    assert [(d.context, d.digest) for d in datasets] == [("source", sha256_digest(data))]


def test_missing_packages_are_marked_and_hub_models_give_their_revision():
    assert package_versions(("surely-not-a-package-xyz",))["surely-not-a-package-xyz"] == \
        NOT_INSTALLED
    hub = model_provenance(ModelConfig(name="q", name_or_path="org-none/model-none"))
    assert hub["revision"] == "main" and hub["digest"] == "hub:org-none/model-none@main"
    pinned = model_provenance(ModelConfig(name="q", name_or_path="org-none/model-none",
                                          revision="v1.0"))
    assert pinned["digest"] == "hub:org-none/model-none@v1.0"


def test_digests_are_not_recomputed_for_files_seen_before(tiny_rc, monkeypatch):
    from socio_re.data import digest

    rc, _, _ = tiny_rc
    build_provenance(rc)
    reads = []
    real = digest.file_sha256
    monkeypatch.setattr(digest, "file_sha256", lambda p: reads.append(p) or real(p))
    build_provenance(rc)
    assert reads == []


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True)


def test_git_state_separates_commit_and_dirty(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    assert git_state(repo) == {"commit": "unknown", "dirty": None}
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-q", "-m", "one")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.strip()
    (repo / "scratch.txt").write_text("untracked files do not count\n")
    assert git_state(repo) == {"commit": sha, "dirty": False}
    (repo / "a.py").write_text("x = 2\n")
    assert git_state(repo) == {"commit": sha, "dirty": True}


def test_tags_are_flat_prefixed_and_leave_out_locations(tiny_rc):
    rc, _, _ = tiny_rc
    provenance, _ = build_provenance(rc)
    tags = provenance_tags(provenance)
    assert all(k.startswith("provenance.") for k in tags)
    assert tags["provenance.versions.torch"] == provenance["versions"]["torch"]
    assert tags["provenance.git.dirty"] in {"true", "false", "unknown"}
    assert tags["provenance.model.digest"] == provenance["model"]["digest"]
    assert not any(k.endswith((".path", ".source", ".name_or_path", ".created")) for k in tags)


class _Recorder:
    """A tracker that keeps what it is given."""

    def __init__(self):
        self.tags, self.datasets, self.artifacts = {}, [], []

    def set_tags(self, tags):
        self.tags.update(tags)

    def log_datasets(self, datasets):
        self.datasets.extend(datasets)

    def log_artifact(self, path, artifact_path=None):
        self.artifacts.append(Path(path))


def test_record_writes_the_file_on_rank_zero_only(tiny_rc, tmp_path, monkeypatch):
    rc, _, _ = tiny_rc
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("RANK", "1")
    assert record_provenance(rc, run_dir, _Recorder()) is None
    assert not (run_dir / PROVENANCE_FILE).exists()
    monkeypatch.setenv("RANK", "0")
    tracker = _Recorder()
    provenance = record_provenance(rc, run_dir, tracker)
    on_disk = json.loads((run_dir / PROVENANCE_FILE).read_text())
    assert on_disk["data"]["digest"] == provenance["data"]["digest"]
    assert tracker.artifacts == [run_dir / PROVENANCE_FILE]
    assert tracker.tags == provenance_tags(provenance) and tracker.datasets
    assert [p.name for p in run_dir.iterdir()] == [PROVENANCE_FILE]  # no temporary left


# --- system metrics ----------------------------------------------------------------------------


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == MONITOR_THREAD and t.is_alive()]


def test_system_metrics_stop_with_the_run_and_log_even_a_short_one(tmp_path):
    import mlflow

    pytest.importorskip("psutil")
    uri = f"sqlite:///{tmp_path / 'sm.db'}"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tracker = make_tracker(TrackingConfig(tracking_uri=uri), experiment="sm", run_name="r",
                           run_dir=run_dir)
    assert _monitor_threads()
    tracker.finish()  # well inside the first 10 s interval
    assert not _monitor_threads()
    metrics = mlflow.MlflowClient(uri).get_run(tracker.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics

    off = make_tracker(TrackingConfig(tracking_uri=uri, system_metrics=False), experiment="sm",
                       run_name="r2", run_dir=tmp_path / "run2")
    assert not _monitor_threads()
    off.finish()
    none = make_tracker(TrackingConfig(backend="none"), experiment="sm", run_name="r3",
                        run_dir=tmp_path / "run3")
    none.finish()
    assert not _monitor_threads()


def test_dataset_inputs_of_a_resumed_run_are_kept_once(tmp_path):
    import mlflow

    from socio_re.tracking.provenance import DatasetRecord

    uri = f"sqlite:///{tmp_path / 'ds.db'}"
    config = TrackingConfig(tracking_uri=uri, system_metrics=False)
    datasets = [DatasetRecord("corpus", "d" * 16, "train", "/data/x", profile={"files": 2}),
                # A hub digest longer than MLflow's 36 characters is stored as its hash.
                DatasetRecord("corpus", "hub:" + "org/" + "n" * 40 + "@main", "source",
                              "org/" + "n" * 40, "hugging_face", "main")]
    tracker = make_tracker(config, experiment="ds", run_name="r", run_dir=tmp_path)
    tracker.log_datasets(datasets)
    tracker.finish()
    again = make_tracker(config, experiment="ds", run_name="r", run_dir=tmp_path)  # resumed
    assert again.run_id == tracker.run_id
    again.log_datasets(datasets)
    again.finish()
    inputs = mlflow.MlflowClient(uri).get_run(tracker.run_id).inputs.dataset_inputs
    assert sorted(len(d.dataset.digest) for d in inputs) == [16, 16]
    hub = next(d.dataset for d in inputs if d.dataset.source_type == "hugging_face")
    assert json.loads(hub.source) == {"path": "org/" + "n" * 40, "revision": "main"}


def test_offline_run_keeps_the_provenance_tags_and_file(tiny_rc, tmp_path):
    import socket

    rc, _, _ = tiny_rc
    with socket.socket() as s:  # a local port where nothing listens
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tracker = make_tracker(TrackingConfig(tracking_uri=dead), experiment="off", run_name="r",
                           run_dir=run_dir)
    assert not _monitor_threads()
    provenance = record_provenance(rc, run_dir, tracker)
    tracker.finish()
    record = json.loads((run_dir / "mlflow_offline" / "run.json").read_text())
    assert record["tags"]["provenance.data.digest"] == provenance["data"]["digest"]
    artifacts = json.loads((run_dir / "mlflow_offline" / "artifacts.json").read_text())
    assert {"path": PROVENANCE_FILE, "artifact_path": None} in artifacts


# --- a real run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """One short relext run (tiny encoder) tracked in its own sqlite store."""
    work = tmp_path_factory.mktemp("prov_run")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    run_dir = work / "run"
    out = run_train(["task=relext", "model=tiny-encoder", "debug=smoke", "fold=1",
                     "task.eval.max_rows=8", f"hydra.run.dir={run_dir}"], work,
                    env={"MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return {"run_dir": run_dir, "uri": uri}


def _tracked(tracked_run):
    import mlflow

    client = mlflow.MlflowClient(tracked_run["uri"])
    run_id = json.loads((tracked_run["run_dir"] / "tracking.json").read_text())["run_id"]
    return client, client.get_run(run_id)


@pytest.mark.slow
def test_real_run_writes_provenance_and_logs_it(tracked_run):
    from socio_re.tasks.relext.data.folds import TEST_FILE

    provenance = json.loads((tracked_run["run_dir"] / PROVENANCE_FILE).read_text())
    assert set(provenance) == SECTIONS
    prepared = Path(provenance["data"]["prepared"])
    folds = sorted(prepared.glob("split_*.json"))
    splits = provenance["data"]["splits"]
    # fold=1 validates on split_1.json and trains on the other folds.
    assert splits["val"]["digest"] == sha256_digest(prepared, [prepared / "split_1.json"])
    assert splits["train"]["digest"] == sha256_digest(
        prepared, [f for f in folds if f.name != "split_1.json"])
    assert splits["test"]["digest"] == sha256_digest(prepared, [prepared / TEST_FILE])
    assert provenance["model"]["digest"] == sha256_digest(Path(provenance["model"]["path"]))

    client, run = _tracked(tracked_run)
    tags = run.data.tags
    assert tags["provenance.versions.torch"] == provenance["versions"]["torch"]
    assert tags["provenance.git.commit"] == provenance["git"]["commit"]
    assert tags["provenance.data.digest"] == provenance["data"]["digest"]
    inputs = {next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
              for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"source", "train", "val", "test"}
    assert inputs["source"].digest == provenance["data"]["digest"]
    assert inputs["train"].digest == splits["train"]["digest"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert PROVENANCE_FILE in artifacts
    assert any(k.startswith("system/") for k in run.data.metrics), sorted(run.data.metrics)


# --- compare -----------------------------------------------------------------------------------


def _store_with_runs(tmp_path: Path, runs: dict[str, dict[str, str]]) -> str:
    """A store with one FINISHED relext run per entry: its provenance tags and its params."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    uri = f"sqlite:///{tmp_path / 'cmp.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("relext", artifact_location=(tmp_path / "art").as_uri())
    now = int(time.time() * 1000)
    for i, (name, fields) in enumerate(runs.items()):
        run_id = client.create_run(exp, run_name=name, tags={"task": "relext"}).info.run_id
        params = {"fold": fields.pop("fold", "0"), "seed": "42"}
        tags = [RunTag(f"provenance.{k}", v) for k, v in fields.items()]
        client.log_batch(run_id, metrics=[Metric("objective", 0.5 + i / 10, now, 0)],
                         params=[Param(k, v) for k, v in params.items()], tags=tags)
        client.set_terminated(run_id, "FINISHED")
    return uri


def _compare(uri: str, tmp_path: Path, capsys) -> str:
    from socio_re.cli.compare import main

    main(["--tracking-uri", uri, "--out", str(tmp_path / "out"), "--loss-curves", "0"])
    return capsys.readouterr().out


BASE = {"versions.torch": "2.13.0", "git.commit": "aaa", "git.dirty": "false",
        "data.digest": "d1", "data.splits.train.digest": "t0"}


def test_compare_names_the_provenance_fields_that_differ(tmp_path, capsys):
    uri = _store_with_runs(tmp_path, {
        "a": dict(BASE),
        "b": {**BASE, "versions.torch": "2.12.0", "git.commit": "bbb"},
        # Another fold trains on other files: expected, not reported.
        "c": {**BASE, "fold": "1", "data.splits.train.digest": "t1"},
        "old": {},  # logged before provenance existed
    })
    out = _compare(uri, tmp_path, capsys)
    lines = out.splitlines()
    start = lines.index("runs differ in provenance (1 run(s) logged without provenance not "
                        "compared):")
    block = lines[start + 1:start + 3]
    # Ranked best first: c (0.7), b (0.6), a (0.5).
    assert block == ["  git.commit: aaa (c, a) vs bbb (b)",
                     "  versions.torch: 2.13.0 (c, a) vs 2.12.0 (b)"]
    assert "data.splits" not in out
    import pandas as pd

    csv = pd.read_csv(tmp_path / "out" / "compare.csv", dtype=str)
    assert csv.set_index("run")["provenance.versions.torch"].to_dict() == {
        "c": "2.13.0", "b": "2.12.0", "a": "2.13.0", "old": "-"}


def test_compare_reports_split_digests_of_the_same_config_and_nothing_when_equal(
        tmp_path, capsys):
    uri = _store_with_runs(tmp_path, {"a": dict(BASE), "b": dict(BASE)})
    assert "provenance" not in _compare(uri, tmp_path, capsys)

    other = tmp_path / "other"
    other.mkdir()
    uri = _store_with_runs(other, {"a": dict(BASE),
                                   "b": {**BASE, "data.splits.train.digest": "t9"}})
    out = _compare(uri, other, capsys)
    assert "  data.splits.train.digest: t9 (b) vs t0 (a)" in out.splitlines()
