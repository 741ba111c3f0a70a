"""One run: validate the composed config, freeze it into the run directory, run the task with
tracking, write metrics.json and print a summary.

``train.py`` calls :func:`run` with Hydra's config; tests call it directly with a composed one.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from socio_re.config.validate import validate_config

log = logging.getLogger(__name__)


class RunInterrupted(Exception):
    """Training stopped early on purpose (trainer.stop_at_step); resume with the same command."""

    exit_code = 3


def _absolute_paths(cfg: DictConfig) -> None:
    # Cached models and data are found again from any working directory (evaluate, predict).
    cache = OmegaConf.select(cfg, "paths.cache_dir", default=None)
    if cache:
        cfg.paths.cache_dir = str(Path(str(cache)).expanduser().resolve())


def _remove_if_fresh(run_dir: Path) -> None:
    """Delete a run directory that holds nothing but what Hydra wrote when the job started."""
    if run_dir.is_dir() and all(p.name == ".hydra" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def freeze_config(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Write the fully resolved config to ``<run_dir>/config.yaml`` and return it."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(resolved), run_dir / "config.yaml")
    return resolved  # type: ignore[return-value]


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in metrics.items()}


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    from socio_re.tasks import get_task
    from socio_re.tracking import make_tracker
    from socio_re.tracking.params import config_params
    from socio_re.tracking.tracker import tracker_tags
    from socio_re.utils.console import print_config_tree, print_summary, setup_logging

    run_dir = Path(run_dir).resolve()
    _absolute_paths(cfg)
    try:
        rc = validate_config(cfg)
    except Exception:
        _remove_if_fresh(run_dir)  # a bad config leaves no half-made run directory behind
        raise
    resolved = freeze_config(cfg, run_dir)
    setup_logging(run_dir)
    print_config_tree(resolved)

    task = get_task(rc.task.name).run_module()
    # Seed before any model is built: new heads and resized embedding rows start the same
    # in every run with the same seed (the Trainer only seeds at its own construction).
    from transformers import set_seed

    set_seed(rc.seed)
    tracker = make_tracker(
        rc.tracking,
        experiment=rc.tracking.experiment_name or rc.task.name,
        run_name=rc.run_name or run_dir.name,
        run_dir=run_dir,
    )
    tracker.set_tags(tracker_tags(rc, run_dir))
    tracker.log_params(config_params(resolved))
    tracker.log_artifact(run_dir / "config.yaml")
    status = "FAILED"
    try:
        result = task.run(rc, run_dir, tracker)
        if result.interrupted:
            status = "KILLED"
            raise RunInterrupted(
                f"stopped after the checkpoint at step {rc.trainer.stop_at_step} "
                "(trainer.stop_at_step); run the same command with the same hydra.run.dir "
                "to resume"
            )
        metrics = result.metrics
        (run_dir / "metrics.json").write_text(json.dumps(_json_safe(metrics), indent=1) + "\n")
        tracker.log_metrics(metrics)
        for path in result.artifacts.values():
            tracker.log_artifact(path)
        tracker.log_artifact(run_dir / "metrics.json")
        status = "FINISHED"
    finally:
        tracker.finish(status)
    outputs = {"config": run_dir / "config.yaml", "metrics": run_dir / "metrics.json",
               **result.artifacts, **result.paths}
    print_summary(metrics, run_dir, outputs, tracker.describe())
    return metrics
