"""Hydra callbacks for sweeps.

The launching process creates the MLflow store (a local one under its lock, see
:func:`socio_re.tracking.store.prepare_store`) and the experiment before any job starts, so the
jobs find both ready instead of all creating them at once.
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
        from socio_re.tracking.store import BrokenStore, connect

        try:
            store = connect(uri, name)  # the experiment exists before the jobs race to create it
        except BrokenStore:
            return  # Hydra would turn it into a warning; the launcher's parent run reports it
        if isinstance(store, str):  # the jobs keep their tracking data offline and warn
            log.warning("MLflow store %s not ready (%s); jobs record offline", uri, store)
        # Jobs find the same store even if they start elsewhere.
        os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
