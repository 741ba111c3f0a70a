"""submitit's executor for a sweep, with the launcher's parameters translated as
hydra-submitit-launcher translates them (generic keys as they are, the others prefixed with the
executor kind)."""

from __future__ import annotations

from socio_re.sweeps.submitit_adapter import executor_kind


def make_executor(launcher, folder: str):
    """An ``AutoExecutor`` writing its job files under ``folder``."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    kind = executor_kind(launcher)
    params = dict(launcher.params)
    init = {"folder": folder}
    if "max_num_timeout" in params:
        init[f"{kind}_max_num_timeout"] = params.pop("max_num_timeout")
    params.pop("submitit_folder", None)
    executor = submitit.AutoExecutor(cluster=kind, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"{kind}_{k}": v
                                  for k, v in params.items()})
    return executor
