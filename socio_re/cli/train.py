"""``python train.py``: compose the config with Hydra, validate it, run the task.

Heavy libraries (torch, transformers, mlflow) are imported only once a run starts, so
``--help`` and ``--cfg job`` stay instant.
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.config.paths import CONF_DIR
from socio_re.sweeps.naming import register_resolvers

register_resolvers()  # conf/train.yaml names sweep directories with it


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from socio_re.run import run

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    # Report user errors here too: past this point Hydra would add its own multi-line report.
    metrics = run_reporting_user_errors(lambda: run(cfg, run_dir))
    # Returned to Hydra (sweepers that optimise a metric read it).
    return metrics.get("objective") if metrics else None


def main() -> None:
    from socio_re.utils.console import quiet_library_loggers

    quiet_library_loggers()
    # Let Hydra's composition errors reach us as exceptions, so each becomes one line + exit 2.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    run_reporting_user_errors(_hydra_main)


if __name__ == "__main__":
    main()
