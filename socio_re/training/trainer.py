"""The HF Trainer with real FSDP2 on CPU (the report of the engine that ran is in
:mod:`socio_re.training.engine_report`).

On a CPU machine accelerate's state is MULTI_CPU, and it only turns FSDP on for GPU-like
distributed types, so a run that asked for FSDP silently becomes plain DDP. After the accelerator
is created we install the FSDP plugin ourselves and mark the state as FSDP; accelerate's FSDP2
path (``fully_shard``) then works over gloo.
"""

from __future__ import annotations

from transformers import Trainer


class SocioTrainer(Trainer):
    def create_accelerator_and_postprocess(self):
        super().create_accelerator_and_postprocess()
        from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

        state = self.accelerator.state
        if self.args.fsdp_plugin_args and state.distributed_type == DistributedType.MULTI_CPU:
            state.fsdp_plugin = FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)
            state.distributed_type = DistributedType.FSDP
            self.is_fsdp_enabled = True
