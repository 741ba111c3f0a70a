"""MLflow's system metrics (``system/cpu_utilization_percentage``, memory, disk, network and,
with ``nvidia-ml-py`` on an NVIDIA machine, ``system/gpu_<i>_*``) sampled on the tracked run.

MLflow's monitor only reports a sample once a whole interval has passed, so a run shorter than
one interval would get none; :meth:`SystemMetrics.stop` reports what the monitor sampled since
its last report (or one fresh sample) after its thread has ended. ``tracking.system_metrics``
turns it off; ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` (seconds) overrides the interval.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

SAMPLING_INTERVAL_S = 10.0


class SystemMetrics:
    """The monitor thread of one run; :meth:`start` returns None where it cannot run (no
    psutil), so a run never fails for it."""

    def __init__(self, monitor: Any):
        self._monitor: Any = monitor

    @classmethod
    def start(cls, run_id: str, tracking_uri: str, *, resume: bool) -> SystemMetrics | None:
        try:
            import psutil  # noqa: F401  (MLflow's CPU and memory monitor needs it)
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            # resume_logging: a resumed run's samples go on after its earlier steps.
            monitor = SystemMetricsMonitor(run_id, sampling_interval=SAMPLING_INTERVAL_S,
                                           resume_logging=resume, tracking_uri=tracking_uri)
            monitor.start()
        except Exception as exc:
            from socio_re.tracking.store import one_line

            log.info("no system metrics for this run: %s", one_line(exc))
            return None
        return cls(monitor)

    def stop(self) -> None:
        """End the sampling thread (it wakes at once), then report what it left unreported."""
        monitor, self._monitor = self._monitor, None
        if monitor is None:
            return
        monitor.finish()
        with contextlib.suppress(Exception):  # a last sample is not worth a failed run
            metrics = monitor.aggregate_metrics()
            if not metrics:
                monitor.collect_metrics()
                metrics = monitor.aggregate_metrics()
            monitor.publish_metrics(metrics)
            monitor.mlflow_logger.flush()

    def abandon(self) -> None:
        """Stop without waiting: the server went away, and joining the thread could wait out
        its HTTP retries. The thread ends at its next wake-up (or sooner, when its own call to
        the server fails)."""
        monitor, self._monitor = self._monitor, None
        # MLflow has no public way to stop the monitor without joining and flushing.
        event = getattr(monitor, "_shutdown_event", None)
        if event is not None:
            event.set()
