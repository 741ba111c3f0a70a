"""The ranks' side of a multi-process strategy: which rank this is, and joining DeepSpeed's
process group. What a strategy means (processes, backend, rules) is in
:mod:`socio_re.config.strategy`; its Trainer settings in :mod:`socio_re.training.engines`;
:mod:`socio_re.launch.spawn` starts the processes.
"""

from __future__ import annotations

import os

from socio_re.config.schema import StrategyConfig
from socio_re.config.strategy import backend
from socio_re.training.engines import skip_unused_deepspeed_ops

WORKER_ENV = "SOCIO_RE_WORKER"


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def init_deepspeed(s: StrategyConfig) -> None:
    """Join DeepSpeed's process group (ZeRO-3 must see it before TrainingArguments and
    from_pretrained), without compiling ops that training never calls."""
    import logging

    import deepspeed

    log = logging.getLogger(__name__)
    skip_unused_deepspeed_ops()
    if rank() == 0:
        log.info("joining DeepSpeed's process group (%s)", backend(s))
    from datetime import timedelta

    from socio_re.training.engines import collective_timeout_s

    deepspeed.init_distributed(dist_backend=backend(s),
                               timeout=timedelta(seconds=collective_timeout_s(s)))
    zero = s.deepspeed.get("zero_optimization") or {}
    offload = (zero.get("offload_optimizer") or {}).get("device") not in (None, "none")
    torch_adam = ((s.deepspeed.get("optimizer") or {}).get("params") or {}).get("torch_adam")
    if offload and not torch_adam and rank() == 0:
        from torch.utils.cpp_extension import _get_build_directory

        log.info("DeepSpeed's CPU Adam op (optimizer offload) compiles on first use, about a "
                 "minute once per machine; cached in %s", _get_build_directory("cpu_adam", False))
