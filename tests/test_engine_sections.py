"""The engine sections (strategy.fsdp, strategy.quantization) are checked key by key against
their schemas: a typo is one line and exit 2, never an option the engine silently ignores."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import compose, run_train

from socio_re.config.schema import ENGINE_SECTIONS, FsdpConfig, QuantizationConfig
from socio_re.config.validate import validate_config
from socio_re.errors import ConfigError


@pytest.mark.parametrize(("overrides", "words"), [
    (["strategy=fsdp", "+strategy.fsdp.cpu_offlaod=true"],
     ["unknown key 'strategy.fsdp.cpu_offlaod'", "cpu_offload"]),
    (["strategy=fsdp", "strategy.fsdp.cpu_offload=maybe"],
     ["strategy.fsdp.cpu_offload='maybe'", "true or false"]),
    (["strategy=qlora", "finetune=lora", "+strategy.quantization.bnb_4bit_quant_typ=fp4"],
     ["unknown key 'strategy.quantization.bnb_4bit_quant_typ'", "bnb_4bit_quant_type"]),
    (["strategy=fsdp", "strategy.fsdp=3"], ["strategy.fsdp=3", "FsdpConfig"]),
])
def test_a_wrong_engine_option_is_named(overrides, words):
    with pytest.raises(ConfigError) as excinfo:
        validate_config(compose(overrides))
    message = str(excinfo.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize("strategy", ["fsdp", "fsdp_offload", "qlora", "qlora_fsdp"])
def test_every_shipped_engine_section_matches_its_schema(strategy):
    rc = validate_config(compose([f"strategy={strategy}", "finetune=lora"]))
    for path, cls in ENGINE_SECTIONS.items():
        section = getattr(rc.strategy, path.split(".")[1])
        if section is not None:
            assert set(section) <= {f.name for f in dataclasses.fields(cls)}
    assert {FsdpConfig, QuantizationConfig} == set(ENGINE_SECTIONS.values())


def test_the_command_line_gives_one_line_and_exit_2(tmp_path):
    out = run_train(["strategy=fsdp", "+strategy.fsdp.cpu_offlaod=true", "tracking=none",
                     f"hydra.run.dir={tmp_path / 'run'}"], tmp_path, timeout=600)
    assert out.returncode == 2
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "cpu_offlaod" in lines[0], out.stderr
    assert not (tmp_path / "run").exists()


# --- trainer.hf_args: any other TrainingArguments option, checked ---------------------------


def test_hf_args_reach_training_arguments(tmp_path):
    from socio_re.training.arguments import training_arguments

    rc = validate_config(compose(["+trainer.hf_args.label_smoothing_factor=0.1"]))
    assert training_arguments(rc, tmp_path).label_smoothing_factor == 0.1


@pytest.mark.parametrize(("override", "words"), [
    ("+trainer.hf_args.label_smothing_factor=0.1", ["unknown option", "label_smoothing_factor"]),
    ("+trainer.hf_args.output_dir=/elsewhere", ["set hydra.run.dir instead"]),
    ("+trainer.hf_args.deepspeed=ds.json", ["set strategy.deepspeed instead"]),
])
def test_hf_args_names_are_checked_with_the_config(override, words):
    with pytest.raises(ConfigError) as excinfo:
        validate_config(compose([override]))
    assert all(w in str(excinfo.value) for w in words), str(excinfo.value)


def test_a_value_training_arguments_refuses_is_a_config_error(tmp_path):
    from socio_re.training.arguments import training_arguments

    rc = validate_config(compose(["+trainer.hf_args.save_strategy=sometimes"]))
    with pytest.raises(ConfigError, match=r"trainer\.hf_args"):
        training_arguments(rc, tmp_path)


# --- DeepSpeed's ZeRO options, checked against DeepSpeed's own config model -------------------


def test_a_misspelt_zero_option_is_named_with_the_right_one():
    with pytest.raises(ConfigError) as excinfo:
        validate_config(compose(["strategy=zero3",
                                 "+strategy.deepspeed.zero_optimization.overlap_com=true"]))
    message = str(excinfo.value)
    assert "strategy.deepspeed.zero_optimization.overlap_com" in message
    assert "did you mean overlap_comm" in message


@pytest.mark.parametrize("strategy", ["zero2", "zero3", "zero3_offload"])
def test_every_shipped_zero_section_is_accepted(strategy):
    from socio_re.config.deepspeed_keys import deepspeed_zero_keys

    rc = validate_config(compose([f"strategy={strategy}"]))
    assert set(rc.strategy.deepspeed["zero_optimization"]) <= deepspeed_zero_keys()


# --- DeepSpeed's top-level keys: the ones DeepSpeed's own parser reads ------------------------


def test_a_misspelt_top_level_deepspeed_key_is_named_with_the_right_one():
    # DeepSpeed itself would ignore this key silently and train without clipping.
    with pytest.raises(ConfigError) as excinfo:
        validate_config(compose(["strategy=zero2", "+strategy.deepspeed.gradient_clipingg=1.0"]))
    message = str(excinfo.value)
    assert "strategy.deepspeed.gradient_clipingg" in message
    assert "did you mean gradient_clipping" in message


def test_a_block_deepspeed_removed_gets_deepspeeds_reason():
    with pytest.raises(ConfigError) as excinfo:
        validate_config(compose(["strategy=zero3", "+strategy.deepspeed.nebula.enabled=true"]))
    message = str(excinfo.value)
    assert "strategy.deepspeed.nebula" in message and "removed" in message
    assert "\n" not in message


def test_the_recorded_top_level_keys_are_what_deepspeed_reads():
    from socio_re.config.deepspeed_keys import READ_OUTSIDE_THE_PARSER, deepspeed_top_level_keys

    keys = deepspeed_top_level_keys()
    # read through ``param_dict.keys()``, ``.get`` and ``[...]`` respectively
    assert {"optimizer", "scheduler", "gradient_clipping", "zero_optimization", "bf16"} <= keys
    assert keys >= READ_OUTSIDE_THE_PARSER
    assert "nebula" not in keys and "gradient_clipingg" not in keys


@pytest.mark.parametrize("strategy", ["zero2", "zero3", "zero3_offload"])
def test_every_shipped_deepspeed_section_uses_only_keys_deepspeed_reads(strategy):
    from socio_re.config.deepspeed_keys import deepspeed_top_level_keys

    rc = validate_config(compose([f"strategy={strategy}"]))
    assert set(rc.strategy.deepspeed) <= deepspeed_top_level_keys()
