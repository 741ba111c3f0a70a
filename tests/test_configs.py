"""Every shipped config composes and validates; bad input gets one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CONF_DIR, ROOT, compose, run_train

from socio_re.config.validate import validate_config
from socio_re.errors import ConfigError

GROUPS = ["task", "model", "data", "finetune", "strategy", "trainer", "tracking", "paths",
          "experiment", "debug"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


from socio_re.config.tasks import task_names  # noqa: E402

TASKS = task_names()  # from the registry: a new task is composed with every option too
# A task or experiment option picks its own task; the others are composed with each task.
SELF_TASKED = ("task", "experiment")
ALL_OPTIONS = [(g, o, t) for g in GROUPS for o in _options(g)
               for t in (["-"] if g in SELF_TASKED else TASKS)]


def _validate(group: str, option: str, task: str):
    """The option composed with ``task``: its RunConfig, or the ConfigError that says why
    the two do not go together (an option made for another task)."""
    overrides = [f"{group}={option}"]
    if group not in SELF_TASKED:
        overrides.insert(0, f"task={task}")
    if group == "strategy" and option.startswith("qlora"):
        overrides.append("finetune=lora")  # 4-bit weights train through adapters only
    try:
        return validate_config(compose(overrides))
    except ConfigError as exc:
        return exc


def test_every_group_has_options():
    for group in GROUPS:
        assert _options(group), f"conf/{group} is empty"
    assert _options("hydra/launcher") and _options("hydra/help")


@pytest.mark.parametrize(("group", "option", "task"), ALL_OPTIONS,
                         ids=[f"{t}-{g}={o}" for g, o, t in ALL_OPTIONS])
def test_shipped_config_composes_and_validates(group, option, task):
    """With its own task (or any task, for a shared option) it validates; with a task it was
    not made for it fails as a one-line ConfigError, never another exception."""
    rc = _validate(group, option, task)
    if isinstance(rc, ConfigError):
        assert str(rc).startswith("config error: ") and "\n" not in str(rc)
        assert group not in SELF_TASKED, rc
        return
    if group == "task":
        assert rc.task.name == option
    elif group != "experiment":
        assert rc.task.name == task
    if group == "model":
        assert rc.model.name == option
        assert rc.model.trust_remote_code is False


def test_every_option_is_composed_by_some_task():
    """Every shipped option validates with at least one task (none is dead), every task's
    own defaults validate, and the options shared by every task are the engine ones."""
    for group in GROUPS:
        for option in _options(group):
            tasks = ["-"] if group in SELF_TASKED else TASKS
            ok = [t for t in tasks if not isinstance(_validate(group, option, t), ConfigError)]
            assert ok, f"conf/{group}/{option}.yaml validates with no task"
    for task in TASKS:
        assert validate_config(compose([f"task={task}"])).task.name == task
    for group in ("finetune", "strategy", "tracking", "paths", "debug"):
        for option in _options(group):
            assert all(not isinstance(_validate(group, option, t), ConfigError)
                       for t in TASKS), f"{group}={option} should serve every task"


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        (["model=minilm"], "model", "socrates generates answers"),
        (["task=relext", "fold=5"], "fold", "0..4 or all"),
        (["task=relext", "fold=-1"], "fold", "0..4 or all"),
        (["task=relext", "task.transform=bold"], "task.transform", "typed_entity_marker"),
        (["task=relext", "task.pooling=last_token"], "task.pooling", "encoders"),
        (["task=relext", "data.context=page"], "data.context", "sentences, abstract"),
        (["task=relext", "trainer.save_steps=3", "trainer.eval_steps=2"], "trainer.save_steps",
         "multiple of trainer.eval_steps"),
    ],
)
def test_impossible_combinations_are_rejected(overrides, key, fragment):
    with pytest.raises(ConfigError) as info:
        validate_config(compose(overrides))
    assert key in str(info.value) and fragment in str(info.value)


def test_default_run_is_offline_socrates():
    rc = validate_config(compose())
    assert (rc.task.name, rc.model.name, rc.data.name) == ("socrates", "tiny-causal",
                                                           "socsci210-sample")
    assert rc.strategy.name == "single" and rc.tracking.backend == "mlflow"


def test_seed_experiment_carries_the_guide_hyperparameters():
    rc = validate_config(compose(["experiment=socrates_seed"]))
    t = rc.trainer
    assert (t.learning_rate, t.lr_scheduler_type, t.warmup_ratio, t.weight_decay) == (
        1e-5, "cosine", 0.05, 0.1)
    assert rc.task.max_length == 2048
    assert (rc.finetune.method, rc.finetune.lora_r, rc.finetune.lora_alpha) == ("lora", 32, 64)
    assert t.global_batch_size == 1024
    assert rc.model.name_or_path == "Qwen/Qwen2.5-14B-Instruct"
    assert rc.data.path == "socratesft/SocSci210"


def test_launcher_preset_composes():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="train", return_hydra_config=True,
                            overrides=["task=relext", "fold=2"])
    # socio_re's resumable sweep loop over submitit's local executor.
    assert cfg.hydra.launcher._target_.endswith("socio_re_launcher.launcher.LocalSweepLauncher")
    from socio_re.sweeps.naming import register_resolvers

    register_resolvers()
    # The sweep directory is named after the sweep's overrides: the same command, the same dir.
    assert cfg.hydra.sweep.dir == "multirun/relext/fold=2__task=relext"


@pytest.mark.parametrize(
    ("override", "key", "fragment"),
    [
        (["+trainer.lr=1"], "trainer.lr", "learning_rate"),
        (["trainer.learning_rate=-1"], "trainer.learning_rate", "> 0"),
        (["finetune.method=qlora"], "finetune.method", "full, lora"),
        (["data.split.kind=by_row"], "data.split.kind", "unseen_studies"),
        (["data.subset=0"], "data.subset", "(0, 1]"),
        (["trainer.global_batch_size=100"], "trainer.global_batch_size", "multiple of"),
        (["task.eval.decoding=beam"], "task.eval.decoding", "greedy, sample"),
        (["fold=2"], "fold", "null"),
    ],
)
def test_invalid_values_name_key_value_and_allowed(override, key, fragment):
    with pytest.raises(ConfigError) as info:
        validate_config(compose(override))
    msg = str(info.value)
    assert key in msg and fragment in msg
    assert "\n" not in msg


def test_help_and_cfg_job_are_fast_and_import_no_torch(tmp_path):
    code = (
        "import sys, runpy; sys.argv=['train.py', '--help'];"
        "\ntry: runpy.run_path('train.py', run_name='__main__')"
        "\nexcept SystemExit: pass"
        "\nassert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Config groups" in out.stdout and "strategy: ddp, fsdp" in out.stdout
    cfg = run_train(["--cfg", "job", "trainer.learning_rate=0.5"], tmp_path)
    assert cfg.returncode == 0, cfg.stderr
    assert "learning_rate: 0.5" in cfg.stdout
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer.learing_rate=1"], "unknown key 'trainer.learing_rate'"),
        (["trainer.learning_rate=fast"],
         "trainer.learning_rate='fast' is invalid; allowed: a number"),
        (["model=gpt5"], "model=gpt5 is not a known option; allowed:"),
        (["trainer.max_steps=1.5"], "trainer.max_steps=1.5 is invalid; allowed: an integer"),
        (["task=nope"], "task=nope is not a known option"),
        (["data.split.kind=rows"], "data.split.kind='rows' is invalid"),
    ],
)
def test_cli_config_errors_are_one_line_exit_2(tmp_path, args, expected):
    run_dir = tmp_path / "run"
    out = run_train([*args, f"hydra.run.dir={run_dir}"], tmp_path)
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert expected in lines[0]
    assert "Traceback" not in out.stderr
    assert not run_dir.exists(), "a rejected config must leave no run directory"
