"""``strategy.deepspeed`` checked against DeepSpeed itself, before any rank starts.

DeepSpeed's JSON is passed through as written, so a misspelt key would otherwise be found late or
never: a wrong ``zero_optimization`` key fails inside every rank as a pydantic traceback, and a
wrong top-level key (``gradient_clipingg``) is silently ignored. Both lists of valid names come from
DeepSpeed, not from a copy here, so they follow the installed version:

- ``zero_optimization``: the fields (and aliases) of DeepSpeed's ``DeepSpeedZeroConfig`` model;
- top level: the keys DeepSpeed's own parser (``DeepSpeedConfig``) asks for while it reads a
  config, recorded by handing it a dict that notes every lookup, plus the few keys read elsewhere
  (:data:`READ_OUTSIDE_THE_PARSER`).

Blocks DeepSpeed has removed (``nebula``, ``elasticity``, ...) get DeepSpeed's own message.
Importing DeepSpeed takes a few seconds, so this runs only for a config with a DeepSpeed section.
"""

from __future__ import annotations

import difflib
import functools
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from socio_re.errors import ConfigError

# Top-level keys that are valid but not looked up by DeepSpeedConfig on a single process:
# ``sequence_parallel_size`` is read only once torch.distributed is up (Ulysses sequence
# parallelism); ``msamp`` is written and read by accelerate.
READ_OUTSIDE_THE_PARSER = frozenset({"sequence_parallel_size", "msamp"})


def _import_deepspeed_config():
    from socio_re.config.strategy import visible_gpus

    # DeepSpeed picks its accelerator at import; on a CPU machine it would warn and guess.
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if visible_gpus() > 0 else "cpu")
    import deepspeed.runtime.config as ds_config

    return ds_config


@functools.cache
def deepspeed_zero_keys() -> frozenset[str]:
    """The option names DeepSpeed's ZeRO config model accepts (fields and their aliases, e.g.
    ``stage3_prefetch_bucket_size``)."""
    _import_deepspeed_config()
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    fields = DeepSpeedZeroConfig.model_fields
    return frozenset(set(fields) | {f.alias for f in fields.values() if f.alias})


class _LookupRecorder(dict):
    """A dict that remembers every key asked of it, present or not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def __getitem__(self, key: Any) -> Any:
        self.asked.add(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.asked.add(key)  # type: ignore[arg-type]
        return super().__contains__(key)

    def keys(self) -> _RecordedKeys:  # type: ignore[override]
        return _RecordedKeys(self)  # DeepSpeed asks ``OPTIMIZER in param_dict.keys()``


class _RecordedKeys:
    """``recorder.keys()`` whose membership tests are recorded too."""

    def __init__(self, recorder: _LookupRecorder) -> None:
        self._recorder = recorder

    def __contains__(self, key: object) -> bool:
        return key in self._recorder

    def __iter__(self):
        return iter(dict.keys(self._recorder))

    def __len__(self) -> int:
        return len(dict.keys(self._recorder))


@functools.cache
def deepspeed_top_level_keys() -> frozenset[str]:
    """Every top-level key DeepSpeed's parser reads. Recorded on small valid configs for ZeRO
    stages 2 and 3 with bf16 on and off (the parser's lookups do not depend on other values),
    minus the removed blocks it looks up only to reject."""
    ds_config = _import_deepspeed_config()
    removed = set(getattr(ds_config, "_REMOVED_TOP_LEVEL_CONFIG_KEYS", {}))
    asked: set[str] = set()
    for stage in (2, 3):
        for bf16 in (False, True):
            probe = _LookupRecorder({
                "train_batch_size": 1, "train_micro_batch_size_per_gpu": 1,
                "gradient_accumulation_steps": 1,
                "zero_optimization": {"stage": stage}, "bf16": {"enabled": bf16},
            })
            ds_config.DeepSpeedConfig(probe)
            asked |= probe.asked
    return frozenset((asked - removed) | READ_OUTSIDE_THE_PARSER)


def _unknown(path: str, value: Any, what: str, known: frozenset[str]) -> ConfigError:
    key = path.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, sorted(known), n=3)
    return ConfigError(path, value, what,
                       "unknown key" + (f"; did you mean {', '.join(close)}?" if close else ""))


def check_deepspeed_section(cfg: DictConfig) -> None:
    """Every key of ``strategy.deepspeed`` and of its ``zero_optimization`` is one DeepSpeed
    reads; raise :class:`ConfigError` naming the first that is not, with the closest names."""
    section = OmegaConf.select(cfg, "strategy.deepspeed", default=None)
    if not isinstance(section, DictConfig):
        return
    removed = getattr(_import_deepspeed_config(), "_REMOVED_TOP_LEVEL_CONFIG_KEYS", {})
    top_level = deepspeed_top_level_keys()
    for key in section:
        path = f"strategy.deepspeed.{key}"
        if key in removed:
            raise ConfigError(path, section[key], "a block this DeepSpeed still supports",
                              " ".join(str(removed[key]).split()))
        if key not in top_level:
            raise _unknown(path, section[key], "a top-level DeepSpeed option", top_level)
    zero = section.get("zero_optimization")
    if isinstance(zero, DictConfig):
        known = deepspeed_zero_keys()
        for key in zero:
            if key not in known:
                raise _unknown(f"strategy.deepspeed.zero_optimization.{key}", zero[key],
                               "an option of DeepSpeed's zero_optimization", known)
