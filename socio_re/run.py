"""One run: validate the composed config, freeze it into the run directory, run the task with
tracking, write metrics.json and print a summary.

``train.py`` calls :func:`run` with Hydra's config; tests call it directly with a composed one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from socio_re.config.validate import validate_config
from socio_re.errors import RunInterrupted
from socio_re.sweeps.state import clear_done, write_done

log = logging.getLogger(__name__)


def _absolute_paths(cfg: DictConfig) -> None:
    # Cached models and data are found again from any working directory (evaluate, predict).
    cache = OmegaConf.select(cfg, "paths.cache_dir", default=None)
    if cache:
        cfg.paths.cache_dir = str(Path(str(cache)).expanduser().resolve())


# What a run directory holds before its task starts: Hydra's record, the frozen config, the log.
_STARTUP_FILES = {".hydra", "config.yaml", "run.log"}


def _remove_if_fresh(run_dir: Path) -> None:
    """Delete a run directory that holds nothing but what was written as the run started (a
    run that failed at start-up leaves no folder to confuse with real results; one with
    checkpoints or a tracked run is kept)."""
    if run_dir.is_dir() and all(p.name in _STARTUP_FILES for p in run_dir.iterdir()):
        from socio_re.utils.console import close_run_log

        close_run_log(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def prepare_shared(rc, run_dir: Path) -> None:
    """Build what every rank reads (offline models, data, tokenized sets) once, here, before
    any rank starts, and fail fast on start-up mistakes: those leave no run folder and no
    tracked run behind."""
    from socio_re.errors import UserError
    from socio_re.launch.distributed import visible_gpus
    from socio_re.tasks import get_task

    if not visible_gpus():  # chosen, not guessed: DeepSpeed warns in every process otherwise
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    log.info("checking the model and preparing the data (built once, then reused from %s)",
             rc.paths.cache_dir)
    try:
        get_task(rc.task.name).run_module().prepare_shared(rc)
    except UserError:
        _remove_if_fresh(run_dir)
        raise


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
    """Validate, freeze, then run in place (one process) or spawn the strategy's ranks."""
    from socio_re.utils.console import print_config_tree, print_summary, setup_logging

    run_dir = Path(run_dir).resolve()
    _absolute_paths(cfg)
    try:
        rc = validate_config(cfg)
    except Exception:
        _remove_if_fresh(run_dir)  # a bad config leaves no half-made run directory behind
        raise
    # Record what "null = all visible GPUs" meant on this machine.
    cfg.strategy.num_processes = rc.strategy.num_processes
    resolved = freeze_config(cfg, run_dir)
    clear_done(run_dir)  # this attempt is not done until it writes the marker again
    setup_logging(run_dir)
    print_config_tree(resolved)
    prepare_shared(rc, run_dir)

    if rc.strategy.num_processes > 1:
        from socio_re.launch.spawn import launch

        launch(run_dir, rc.strategy.num_processes, rc.strategy.devices)
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    else:
        summary = execute(rc, resolved, run_dir)
    write_done(run_dir, summary["metrics"], summary["tracking"])
    outputs = {k: Path(v) for k, v in summary["outputs"].items()}
    print_summary(summary["metrics"], run_dir, outputs, summary["tracking"],
                  engine=summary.get("engine"), run_name=summary.get("run_name"),
                  report=summary.get("report") or "")
    return summary["metrics"]


SUMMARY_FILE = "summary.json"


def execute(rc, resolved: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The task on this process (the only one, or one rank of several). Rank 0 tracks and writes
    metrics.json and summary.json; the other ranks only compute."""
    from transformers import set_seed

    from socio_re.launch.distributed import rank
    from socio_re.sweeps.tags import sweep_tags
    from socio_re.tasks import get_task
    from socio_re.tracking import make_tracker
    from socio_re.tracking.params import config_params
    from socio_re.tracking.run_names import default_run_name
    from socio_re.tracking.tracker import command_line_overrides, tracker_tags
    from socio_re.training.engine_report import describe_engine, read_engine_report

    task = get_task(rc.task.name).run_module()
    # Seed before any model is built: new heads and resized embedding rows start the same
    # in every run with the same seed (the Trainer only seeds at its own construction).
    set_seed(rc.seed)
    # A sweep job's own overrides are its directory's name; a single run's are its command line.
    run_name = rc.run_name or default_run_name(
        rc, run_dir.name.split("__") if rc.sweep.id else command_line_overrides(run_dir).split())
    tracker = make_tracker(
        rc.tracking,
        experiment=rc.tracking.experiment_name or rc.task.name,
        run_name=run_name,
        run_dir=run_dir,
    )
    tracker.set_tags({**tracker_tags(rc, run_dir), **sweep_tags(rc)})
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
        metrics = _json_safe(result.metrics)
        outputs = {"config": run_dir / "config.yaml", "metrics": run_dir / "metrics.json",
                   **result.artifacts, **result.paths}
        engine = read_engine_report(run_dir)
        summary = {"metrics": metrics, "outputs": {k: str(v) for k, v in outputs.items()},
                   "tracking": tracker.describe(), "run_name": tracker.run_name or run_name,
                   "engine": describe_engine(engine) if engine else None,
                   "report": result.report}
        if rank() == 0:
            (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
            (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
            tracker.log_metrics(result.metrics)
            for path in result.artifacts.values():
                tracker.log_artifact(path)
            tracker.log_artifact(run_dir / "metrics.json")
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except Exception as exc:
        if status == "FAILED":  # the reason, one line, beside the status in the runs table
            from socio_re.tracking.store import one_line

            tracker.set_tags({"error": f"{type(exc).__name__}: {one_line(exc)}"})
        raise
    finally:
        tracker.finish(status)
    return summary
