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
        from socio_re.tracking.tracker import default_tracking_uri

        uri = OmegaConf.select(config, "tracking.tracking_uri", default=None) or \
            default_tracking_uri()
        name = OmegaConf.select(config, "tracking.experiment_name", default=None) or \
            OmegaConf.select(config, "task.name", default="default")
        from socio_re.tracking.offline import bound_http_retries, unreachable_reason

        bound_http_retries()
        reason = unreachable_reason(uri)
        if reason:  # the jobs keep their tracking data offline and warn themselves
            log.warning("MLflow server %s unreachable (%s); jobs record offline", uri, reason)
            os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
            return
        try:
            import mlflow

            from socio_re.tracking.tracker import experiment_id

            experiment_id(mlflow.MlflowClient(uri), uri, name)
            # Jobs find the same store even if they start elsewhere.
            os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
        except Exception as exc:
            log.warning("could not prepare the MLflow store %s: %s", uri, exc)
