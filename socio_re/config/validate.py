"""Turn a composed Hydra config into typed dataclasses, with one-line errors.

OmegaConf does the type checking when the composed config is merged into the schema; this module
translates its exceptions into :class:`~socio_re.errors.ConfigError` messages that name the key,
the bad value and what is allowed, and adds the cross-field rules no single type can express.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from socio_re.config.schema import RunConfig
from socio_re.errors import ConfigError

# Keys whose value must be one of a fixed set.
CHOICES: dict[str, tuple[str, ...]] = {
    "model.dtype": ("auto", "float32", "bfloat16", "float16"),
    "model.kind": ("encoder", "decoder"),
    "finetune.method": ("full", "lora"),
    "trainer.precision": ("auto", "fp32", "bf16", "fp16"),
    "tracking.backend": ("mlflow", "none"),
    "strategy.backend": ("auto", "nccl", "gloo"),
    "sweep.rerun": ("unfinished", "all"),
}


def _schema_at(path: str, schemas: dict[str, type]) -> type | None:
    """The dataclass that defines the node at a dotted ``path`` (None if not a dataclass)."""
    parts = [p for p in path.split(".") if p]
    if not parts:
        return RunConfig
    cls: type | None = schemas.get(parts[0])
    if cls is None:
        hints = typing.get_type_hints(RunConfig)
        cls = hints.get(parts[0])
    for part in parts[1:]:
        if cls is None or not dataclasses.is_dataclass(cls):
            return None
        hint = typing.get_type_hints(cls).get(part)
        # Unwrap Optional[X]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        cls = args[0] if args and dataclasses.is_dataclass(args[0]) else hint
    return cls if dataclasses.is_dataclass(cls) else None


def allowed_keys(path: str, schemas: dict[str, type] | None = None) -> list[str]:
    """Field names allowed under the node at ``path`` (empty if unknown)."""
    cls = _schema_at(path, schemas or {})
    return [f.name for f in dataclasses.fields(cls)] if cls else []


def _type_name(path: str, schemas: dict[str, type]) -> str:
    parent, _, leaf = path.rpartition(".")
    cls = _schema_at(parent, schemas)
    if cls is None:
        return "a different type"
    hint = typing.get_type_hints(cls).get(leaf)
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    parts = [names.get(a, getattr(a, "__name__", str(a))) for a in args]
    if type(None) in typing.get_args(hint):
        parts.append("null")
    return " or ".join(parts)


def translate_omegaconf_error(
    exc: OmegaConfBaseException, schemas: dict[str, type] | None = None, value: Any = None
) -> ConfigError:
    """A one-line :class:`ConfigError` for an OmegaConf key or type error."""
    schemas = schemas or {}
    full_key = getattr(exc, "full_key", None) or "<config>"
    if isinstance(exc, ConfigKeyError) or "not in" in str(exc).split("\n")[0]:
        parent = full_key.rpartition(".")[0]
        keys = allowed_keys(parent, schemas)
        where = f"under {parent}" if parent else "at the top level"
        allowed = ", ".join(keys) if keys else "see python train.py --cfg job"
        err = ConfigError(full_key, value, f"keys {where}: {allowed}", "unknown key")
        err.args = (f"config error: unknown key {full_key!r}; allowed keys {where}: {allowed}",)
        return err
    if isinstance(exc, ValidationError):
        bad = getattr(exc, "value", None) if value is None else value
        if bad is None:
            bad = str(exc).split("'")[1] if "'" in str(exc) else "?"
        return ConfigError(full_key, bad, _type_name(full_key, schemas))
    return ConfigError(full_key, value, "a valid value", str(exc).split("\n")[0])


def _check(cond: bool, key: str, value: Any, allowed: str, hint: str | None = None) -> None:
    if not cond:
        raise ConfigError(key, value, allowed, hint)


def _check_common(rc: RunConfig) -> None:
    for key, options in CHOICES.items():
        section, leaf = key.split(".")
        value = getattr(getattr(rc, section), leaf)
        _check(value in options, key, value, ", ".join(options))
    t = rc.trainer
    _check(t.learning_rate > 0, "trainer.learning_rate", t.learning_rate, "a number > 0")
    _check(t.num_train_epochs > 0 or t.max_steps > 0, "trainer.num_train_epochs",
           t.num_train_epochs, "a number > 0 (or trainer.max_steps > 0)")
    _check(t.per_device_train_batch_size >= 1, "trainer.per_device_train_batch_size",
           t.per_device_train_batch_size, "an integer >= 1")
    _check(t.per_device_eval_batch_size >= 1, "trainer.per_device_eval_batch_size",
           t.per_device_eval_batch_size, "an integer >= 1")
    _check(t.gradient_accumulation_steps >= 1, "trainer.gradient_accumulation_steps",
           t.gradient_accumulation_steps, "an integer >= 1")
    _check(0 <= t.warmup_ratio < 1, "trainer.warmup_ratio", t.warmup_ratio, "a number in [0, 1)")
    _check(t.weight_decay >= 0, "trainer.weight_decay", t.weight_decay, "a number >= 0")
    _check(t.logging_steps >= 1, "trainer.logging_steps", t.logging_steps, "an integer >= 1")
    for key in ("eval_steps", "save_steps", "stop_at_step"):
        v = getattr(t, key)
        _check(v is None or v >= 1, f"trainer.{key}", v, "an integer >= 1 or null")
    n = rc.strategy.num_processes
    _check(n >= 1, "strategy.num_processes", n, "an integer >= 1 or null")
    _check(rc.strategy.timeout_min > 0, "strategy.timeout_min", rc.strategy.timeout_min,
           "a number of minutes > 0")
    if t.global_batch_size is not None:
        _check(t.global_batch_size >= 1, "trainer.global_batch_size", t.global_batch_size,
               "an integer >= 1 or null")
        from socio_re.utils.world import world_size

        # On several nodes (inside their SLURM job) every node's ranks count.
        per_step = t.per_device_train_batch_size * world_size(rc.strategy.num_processes)
        _check(
            t.global_batch_size % per_step == 0, "trainer.global_batch_size", t.global_batch_size,
            f"a multiple of per_device_train_batch_size x processes = {per_step}",
            "gradient accumulation must be a whole number",
        )
    f = rc.finetune
    if f.method == "lora":
        _check(f.lora_r >= 1, "finetune.lora_r", f.lora_r, "an integer >= 1")
        _check(f.lora_alpha >= 1, "finetune.lora_alpha", f.lora_alpha, "an integer >= 1")
        _check(0 <= f.lora_dropout < 1, "finetune.lora_dropout", f.lora_dropout,
               "a number in [0, 1)")
    _check(bool(rc.model.name_or_path), "model.name_or_path", rc.model.name_or_path,
           "a hub id or a local directory")
    r = rc.resume
    _check(bool(r), "resume", r, "auto, never, or a checkpoint directory")


def check_engine_sections(cfg: DictConfig) -> None:
    """Every key and value of the engine sections (``ENGINE_SECTIONS``) against its schema:
    ``+strategy.fsdp.cpu_offlaod=true`` is one line naming the allowed keys, not a setting the
    engine silently never reads."""
    from socio_re.config.schema import ENGINE_SECTIONS

    for path, cls in ENGINE_SECTIONS.items():
        node = OmegaConf.select(cfg, path, default=None)
        if node is None:
            continue
        if not isinstance(node, DictConfig):
            raise ConfigError(path, node, f"a mapping of {cls.__name__} keys or null")
        try:
            OmegaConf.merge(OmegaConf.structured(cls), node)
        except OmegaConfBaseException as exc:
            leaf = (getattr(exc, "full_key", None) or "?").split(".")[-1]
            key = f"{path}.{leaf}"
            fields = [f.name for f in dataclasses.fields(cls)]
            if leaf not in fields:
                err = ConfigError(key, None, ", ".join(fields), "unknown key")
                err.args = (f"config error: unknown key {key!r}; allowed keys under {path}: "
                            f"{', '.join(fields)}",)
                raise err from None
            hint = typing.get_type_hints(cls)[leaf]
            raise ConfigError(key, node[leaf], _type_name(f"x.{leaf}", {"x": cls})
                              if hint is not Any else "a valid value") from None


def check_sections_are_mappings(cfg: DictConfig) -> None:
    """``trainer: 3`` (a value where a section belongs, e.g. in an experiment file) named as
    such; OmegaConf's own message for it names no key."""
    for field in dataclasses.fields(RunConfig):
        if not dataclasses.is_dataclass(field.type if not isinstance(field.type, str) else
                                        typing.get_type_hints(RunConfig).get(field.name)):
            continue
        if field.name in cfg and not isinstance(cfg[field.name], DictConfig):
            kind = {int: "a number", float: "a number", str: "a string", bool: "a boolean"}.get(
                type(cfg[field.name]), "a list")
            raise ConfigError(field.name, cfg[field.name], f"a mapping of {field.name} settings",
                              f"{kind} where the {field.name} section belongs")


def validate_config(cfg: DictConfig) -> RunConfig:
    """Merge ``cfg`` into the typed schema and check cross-field rules; raise ConfigError."""
    from socio_re.config.tasks import get_task

    task_name = OmegaConf.select(cfg, "task.name", default=None)
    spec = get_task(task_name)
    from socio_re.config.task_contract import check_contract

    missing = check_contract(spec)
    if missing:  # a task package under construction: say what the contract still needs
        raise ConfigError("task", task_name, "a task that meets the task contract",
                          "; ".join(missing) + " (docs/adding-a-task.md)")
    cfg_mod = spec.config_module()
    schemas = {"task": cfg_mod.TaskConfig, "data": cfg_mod.DataConfig}

    check_sections_are_mappings(cfg)
    check_engine_sections(cfg)
    from socio_re.config.deepspeed_keys import check_deepspeed_section

    check_deepspeed_section(cfg)
    schema = OmegaConf.structured(RunConfig)
    schema.task = OmegaConf.structured(cfg_mod.TaskConfig)
    schema.data = OmegaConf.structured(cfg_mod.DataConfig)
    try:
        merged = OmegaConf.merge(schema, cfg)
        OmegaConf.resolve(merged)
        rc: RunConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        full_key = getattr(exc, "full_key", None)
        value = OmegaConf.select(cfg, full_key, default=None) if full_key else None
        raise translate_omegaconf_error(exc, schemas, value) from None
    from socio_re.config.strategy import check_strategy, resolve_num_processes

    check_strategy(rc)
    rc.strategy.num_processes = resolve_num_processes(rc.strategy)
    _check_common(rc)
    if rc.trainer.hf_args:  # names only here (values: when TrainingArguments is built)
        from socio_re.config.hf_args import check_hf_args

        check_hf_args(rc.trainer.hf_args)
    cfg_mod.validate(rc)
    return rc


def load_run_config(run_dir: Path):
    """The validated config a run directory was made with (its ``config.yaml``)."""
    from socio_re.errors import DataError

    cfg_file = Path(run_dir) / "config.yaml"
    if not cfg_file.exists():
        raise DataError(f"{cfg_file} does not exist; pass a run directory made by train.py")
    return validate_config(OmegaConf.load(cfg_file))
