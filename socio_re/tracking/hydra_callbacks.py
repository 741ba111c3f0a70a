"""Hydra callbacks for sweeps.

Several sweep jobs creating a fresh MLflow sqlite store at the same moment collide on schema
creation and crash; creating the store and the experiment once, in the launching process before
any job starts, avoids it (concurrent writers on an existing store are fine).
"""

from __future__ import annotations

import logging
import os

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class PrepareTrackingStore(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        backend = OmegaConf.select(config, "tracking.backend", default="none")
        if backend != "mlflow":
            return
        from socio_re.tracking.store import default_tracking_uri

        uri = OmegaConf.select(config, "tracking.tracking_uri", default=None) or \
            default_tracking_uri()
        name = OmegaConf.select(config, "tracking.experiment_name", default=None) or \
            OmegaConf.select(config, "task.name", default="default")
        from socio_re.tracking.store import connect

        store = connect(uri, name)  # the experiment exists before the jobs race to create it
        if isinstance(store, str):  # the jobs keep their tracking data offline and warn
            log.warning("MLflow store %s not ready (%s); jobs record offline", uri, store)
        # Jobs find the same store even if they start elsewhere.
        os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
