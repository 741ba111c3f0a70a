"""The engine a strategy runs (plain/DDP, DeepSpeed, FSDP, quantized), as one object: what it
means for loading the model, the Trainer's arguments and the export. The settings themselves are
built in :mod:`socio_re.training.engines`; no heavy imports at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socio_re.config.schema import StrategyConfig
from socio_re.config.strategy import is_zero3


@dataclass(frozen=True)
class Engine:
    strategy: StrategyConfig

    @classmethod
    def from_strategy(cls, strategy: StrategyConfig) -> Engine:
        return cls(strategy)

    @property
    def is_deepspeed(self) -> bool:
        return bool(self.strategy.deepspeed)

    @property
    def is_zero3(self) -> bool:
        return is_zero3(self.strategy)

    @property
    def is_fsdp(self) -> bool:
        return bool(self.strategy.fsdp)

    @property
    def is_quantized(self) -> bool:
        return bool(self.strategy.quantization)

    @property
    def args_before_model(self) -> bool:
        """ZeRO-3 partitions the weights while they load, so DeepSpeed's config (made by
        TrainingArguments) must exist before the model; every DeepSpeed stage is built that way
        so that the order does not depend on the stage."""
        return self.is_deepspeed

    @property
    def places_weights_itself(self) -> bool:
        """ZeRO-3 and FSDP put each rank's weights where they belong: no device_map at load."""
        return self.is_zero3 or self.is_fsdp

    def quantization_config(self):
        """The BitsAndBytesConfig of the strategy (None without quantization)."""
        from socio_re.training.engines import quantization_config

        return quantization_config(self.strategy)

    def trainer_kwargs(self, num_processes: int, model=None) -> dict[str, Any]:
        """TrainingArguments keywords of the engine (backend, DeepSpeed dict, FSDP options);
        under FSDP ``model`` gives the layer class to wrap."""
        from socio_re.training.engines import trainer_kwargs

        return trainer_kwargs(self.strategy, num_processes, model)

    def prepare_process(self) -> None:
        """Before TrainingArguments: DeepSpeed on CPU must not compile ops training never uses."""
        if self.is_deepspeed:
            from socio_re.training.engines import skip_unused_deepspeed_ops

            skip_unused_deepspeed_ops()

    @staticmethod
    def export(trainer, final: Path, save_fn=None) -> Path:
        """The trained model as a plain directory, gathered from whatever engine ran: a
        collective, every rank calls it (training/export.py)."""
        from socio_re.training.export import save_full_model

        return save_full_model(trainer, final, save_fn=save_fn)

    @staticmethod
    def leave_distributed_context() -> None:
        """Forget ZeRO-3's global config, so that a later load in one process is not
        partitioned across ranks that have already left."""
        from socio_re.training.export import leave_distributed_context

        leave_distributed_context()
