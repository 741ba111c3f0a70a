"""Every strategy trains both tasks on CPU with 2 processes over gloo, and the engine that ran is
the one asked for (read from the run's engine.json, written by the Trainer itself).

Each strategy run is the very first run of its own empty cache (tiny model, sample data and
prepared data all built by that run), as on a fresh clone: the shared files must be built once,
before the ranks start, never by each rank."""

from __future__ import annotations

import json
import os

import pytest
from conftest import compose, run_train

from socio_re.config.validate import validate_config
from socio_re.errors import ConfigError

SMOKE = ["debug=smoke", "tracking=none"]


@pytest.fixture(autouse=True)
def _extensions_cache(cache_dir, monkeypatch):
    # DeepSpeed JIT-compiles its CPU ops once; keep them for the whole session.
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(cache_dir / "torch_extensions"))


def _run(tmp_path, args, name="run"):
    """A run as the first command on an empty cache; checks what the user saw on the way."""
    run_dir = tmp_path / name
    out = run_train([*args, *SMOKE, f"hydra.run.dir={run_dir}"], tmp_path,
                    env={"SOCIO_RE_CACHE_DIR": str(tmp_path / f"cache-{name}")})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "building the offline tiny" in out.stderr  # built here, by this first run, once
    assert out.stderr.count("building the offline tiny") == 1
    engine = json.loads((run_dir / "engine.json").read_text())
    assert "engine: " in out.stderr  # said as soon as the engine is in place ...
    summary = [line for line in out.stdout.splitlines() if line.startswith("engine ")]
    assert len(summary) == 1  # ... and in the final summary
    return run_dir, engine


def _check_engine(engine: dict, strategy: str) -> None:
    if strategy == "ddp":
        assert engine["engine"] == "ddp" and engine["ddp"] and engine["world_size"] == 2
    elif strategy == "fsdp":
        # Really sharded: every parameter is a DTensor whose local shard is smaller.
        assert engine["engine"] == "fsdp" and not engine["ddp"]
        assert engine["fsdp_sharded_params"] == engine["params"] > 0
    elif strategy in ("zero2", "zero3"):
        assert engine["deepspeed_engine"] == "DeepSpeedEngine"
        assert engine["zero_stage"] == int(strategy[-1]) and engine["world_size"] == 2
    elif strategy == "qlora":
        assert engine["linear4bit_layers"] > 0
    elif strategy == "qlora_fsdp":
        _check_engine(engine, "fsdp")
        _check_engine(engine, "qlora")


# Socrates runs share one global batch of 16 (single: 16 x 1; the rest: 8 x 2 processes) and
# log every step, so the same runs prove both the engine and the equivalence of loss curves.
EQUAL_BATCH = ["trainer.logging_steps=1", "trainer.learning_rate=1e-3", "task.eval.max_rows=8"]
SOCRATES = {
    "single": ["trainer.per_device_train_batch_size=16"],
    "ddp": ["trainer.per_device_train_batch_size=8"],
    "fsdp": ["trainer.per_device_train_batch_size=8"],
    "zero2": ["trainer.per_device_train_batch_size=8"],
    "zero3": ["trainer.per_device_train_batch_size=8"],
    "qlora": ["finetune=lora"],
    "qlora_fsdp": ["finetune=lora", "trainer.per_device_train_batch_size=8"],
}
RELEXT = {
    "ddp": ["model=tiny-encoder"],
    "fsdp": ["model=tiny-encoder"],
    "zero2": ["model=tiny-encoder"],
    "zero3": ["model=tiny-encoder"],
    "qlora": ["model=tiny-decoder", "finetune=lora"],
}


@pytest.fixture(scope="module")
def socrates_runs(tmp_path_factory, cache_dir):
    os.environ["TORCH_EXTENSIONS_DIR"] = str(cache_dir / "torch_extensions")
    work = tmp_path_factory.mktemp("socrates")
    return {s: _run(work, ["task=socrates", f"strategy={s}", *extra, *EQUAL_BATCH], s)
            for s, extra in SOCRATES.items()}


def _check_export(run_dir) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train/global_step"] == 6
    # The exported model is a plain directory that loads without this package's engine.
    model_dir = run_dir / "model"
    assert (model_dir / "config.json").exists() or (model_dir / "adapter_config.json").exists()
    assert any(model_dir.glob("*.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [s for s in SOCRATES if s != "single"])
def test_socrates_strategy_runs_the_requested_engine(socrates_runs, strategy):
    run_dir, engine = socrates_runs[strategy]
    _check_engine(engine, strategy)
    _check_export(run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", list(RELEXT))
def test_relext_strategy_runs_the_requested_engine(tmp_path, strategy):
    run_dir, engine = _run(tmp_path, ["task=relext", f"strategy={strategy}", *RELEXT[strategy]])
    _check_engine(engine, strategy)
    _check_export(run_dir)


@pytest.mark.slow
def test_qlora_composes_with_ddp(tmp_path):
    _, engine = _run(tmp_path, ["strategy=qlora", "finetune=lora", "strategy.num_processes=2"])
    assert engine["ddp"] and engine["linear4bit_layers"] > 0


@pytest.mark.slow
def test_sharded_qlora_relext_resumes_keeps_its_best_and_exports(tmp_path):
    """qlora_fsdp: 4-bit weights sharded by FSDP2, a preempted run resumed from its sharded
    checkpoint, the best evaluated weights restored (the keeper, not the Trainer's reload), and
    the adapters merged into a plain full-precision classifier."""
    run_dir = tmp_path / "run"
    args = ["task=relext", "model=tiny-decoder", "strategy=qlora_fsdp", "finetune=lora",
            "debug=preempt", "tracking=none", f"hydra.run.dir={run_dir}"]
    fresh = {"SOCIO_RE_CACHE_DIR": str(tmp_path / "cache")}  # the first run of a fresh clone
    first = run_train(args, tmp_path, env=fresh)
    assert first.returncode == 3, first.stderr[-3000:]
    second = run_train([*args, "trainer.stop_at_step=null"], tmp_path, env=fresh)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "building the offline tiny" not in second.stderr  # the cache from the first run
    engine = json.loads((run_dir / "engine.json").read_text())
    _check_engine(engine, "fsdp")
    _check_engine(engine, "qlora")
    state = json.loads((run_dir / "checkpoints" / "checkpoint-8" / "trainer_state.json")
                       .read_text())
    evals = {h["step"]: h["eval_micro_f1"] for h in state["log_history"]
             if "eval_micro_f1" in h}
    best = json.loads((run_dir / "checkpoints" / "best_weights.json").read_text())
    assert best["metric"] == pytest.approx(max(evals.values()))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train/global_step"] == 8
    assert metrics["train/best_step"] == best["step"] in evals
    from socio_re.models.classifier import SequenceClassifier

    model = SequenceClassifier.load(run_dir / "model")  # merged, unquantized
    assert not any("lora_" in n for n, _ in model.named_parameters())
    assert not any(type(m).__name__ == "Linear4bit" for m in model.modules())


def _losses(run_dir) -> list[float]:
    state = sorted((run_dir / "checkpoints").glob("checkpoint-*"),
                   key=lambda p: int(p.name.split("-")[1]))[-1] / "trainer_state.json"
    return [h["loss"] for h in json.loads(state.read_text())["log_history"] if "loss" in h]


@pytest.mark.slow
@pytest.mark.parametrize(("a", "b"), [("single", "ddp"), ("zero2", "zero3"), ("ddp", "fsdp")])
def test_same_global_batch_gives_the_same_loss_curve(socrates_runs, a, b):
    la, lb = _losses(socrates_runs[a][0]), _losses(socrates_runs[b][0])
    assert len(la) == len(lb) == 6
    # The same samples in each optimizer step; only the order of float additions differs.
    assert la == pytest.approx(lb, rel=2e-3), (la, lb)
    assert la[-1] < la[0]


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        (["strategy=qlora"], "finetune.method", "add finetune=lora"),
        (["strategy=single", "strategy.num_processes=2"], "strategy.num_processes",
         "use strategy=ddp"),
        (["strategy=fsdp", "strategy.fsdp.version=1"], "strategy.fsdp.version", "2"),
        (["strategy=qlora", "finetune=lora", "+strategy.fsdp={version: 2}"],
         "bnb_4bit_quant_storage", "floating dtype"),
        (["strategy=ddp", "strategy.devices=[0,1]", "strategy.num_processes=3"],
         "strategy.num_processes", "one per device"),
        (["strategy=zero2", "strategy.deepspeed.zero_optimization.stage=4"],
         "zero_optimization.stage", "0, 1, 2, 3"),
    ],
)
def test_impossible_strategy_combinations_are_one_line_errors(overrides, key, fragment):
    with pytest.raises(ConfigError) as info:
        validate_config(compose(overrides))
    assert key in str(info.value) and fragment in str(info.value)


def test_strategy_defaults_resolve_for_this_machine():
    rc = validate_config(compose(["strategy=ddp"]))
    gpus = int(os.environ.get("SOCIO_RE_TEST_GPUS", "0"))
    assert rc.strategy.num_processes == (gpus or 2)
    rc = validate_config(compose(["strategy=ddp", "strategy.devices=[0,2,3]"]))
    assert rc.strategy.num_processes == 3


@pytest.mark.slow
# DDP checkpoints are plain model files, resumed like a single process (test_socrates_run);
# the sharded formats are the ones worth a test of their own.
@pytest.mark.parametrize("strategy", ["fsdp", "zero3"])
def test_preempted_multi_process_run_resumes_from_its_sharded_checkpoint(tmp_path, strategy):
    run_dir = tmp_path / "run"
    args = [f"strategy={strategy}", "debug=preempt", "tracking=none", f"hydra.run.dir={run_dir}"]
    first = run_train(args, tmp_path)
    assert first.returncode == 3, first.stderr[-3000:]
    # Every rank's shards are listed in the completeness marker, written once all had saved.
    marker = run_dir / "checkpoints" / "checkpoint-4" / "socio_re_complete.json"
    listed = json.loads(marker.read_text())["files"]
    assert any(("rank1" in f or "_1" in f) for f in listed), sorted(listed)
    second = run_train([*args, "trainer.stop_at_step=null"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in (run_dir / "run.log").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["train/global_step"] == 8
    state = json.loads((run_dir / "checkpoints" / "checkpoint-8" / "trainer_state.json")
                       .read_text())
    assert [h["step"] for h in state["log_history"] if "loss" in h] == list(range(1, 9))
