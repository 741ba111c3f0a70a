"""The HF Trainer with real FSDP2 on CPU (the report of the engine that ran is in
:mod:`socio_re.training.engine_report`), and no extra step after a resume from the last
checkpoint.

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

    def _run_epoch(self, *args, **kwargs):
        # Resumed from the checkpoint of the last step (a run killed after training, during its
        # evaluation), transformers would take one more optimizer step before it checks
        # max_steps: step 9 of 8, other final weights and metrics. Training is already over.
        if 0 < self.state.max_steps <= self.state.global_step:
            self.control.should_training_stop = True
            return None
        return super()._run_epoch(*args, **kwargs)
