"""One run: validate the composed config, freeze it into the run directory, run the task with
tracking, write metrics.json and print a summary.

``train.py`` calls :func:`run` with Hydra's config; tests call it directly with a composed one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from socio_re.config.validate import validate_config
from socio_re.errors import UserError
from socio_re.execute import SUMMARY_FILE, execute
from socio_re.sweeps.state import clear_done, read_done, write_done
from socio_re.utils.files import read_json_or_none

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
    from socio_re.config.strategy import visible_gpus
    from socio_re.config.tasks import get_task

    if not visible_gpus():  # chosen, not guessed: DeepSpeed warns in every process otherwise
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    log.info("checking the model and preparing the data (built once, then reused from %s)",
             rc.paths.cache_dir)
    try:
        get_task(rc.task.name).prepare_shared(rc)
    except UserError:
        _remove_if_fresh(run_dir)
        raise


def freeze_config(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Write the fully resolved config to ``<run_dir>/config.yaml`` and return it."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(resolved), run_dir / "config.yaml")
    return resolved  # type: ignore[return-value]


# Keys that may differ between the finished run and the same command typed again.
_RERUN_KEYS = ("resume", "trainer.stop_at_step")


def report_finished(cfg: DictConfig, run_dir: Path, done: dict[str, Any]) -> dict[str, Any]:
    """The run in ``run_dir`` finished (its ``done.json``): show its summary instead of training
    again over it, and say how to train again. Nothing in the directory is touched."""
    from socio_re.tracking.params import flatten
    from socio_re.utils.console import print_summary, setup_logging

    setup_logging()  # the console only: nothing is written into the finished run's directory
    summary = read_json_or_none(run_dir / SUMMARY_FILE) or {}
    saved = _saved_config(run_dir / "config.yaml")
    now = flatten(OmegaConf.to_container(cfg, resolve=True))
    changed = sorted(k for k in set(now) | set(saved or {})
                     if not k.startswith(_RERUN_KEYS) and (saved or {}).get(k) != now.get(k))
    print_summary(done.get("metrics", {}), run_dir,
                  {k: Path(v) for k, v in summary.get("outputs", {}).items()},
                  done.get("tracking", ""), engine=summary.get("engine"),
                  run_name=summary.get("run_name"), report=summary.get("report") or "")
    if saved is not None and changed:
        log.warning("this command differs from the finished run's config in %s; nothing was "
                    "trained: to train with it, give a new hydra.run.dir", ", ".join(changed[:6]))
    log.info("%s holds a finished run (done.json): shown above, nothing trained again; to train "
             "again over it: resume=never, or a new hydra.run.dir", run_dir)
    return done.get("metrics", {})


def _saved_config(path: Path) -> dict[str, Any] | None:
    """The flattened config saved as YAML in ``path``, or None when unreadable."""
    from socio_re.tracking.params import flatten

    try:
        return flatten(OmegaConf.to_container(OmegaConf.load(path), resolve=True))
    except Exception:  # a config cut short: compare nothing rather than fail the report
        return None


def _run_other_node(rc, run_dir: Path, nodes) -> dict[str, Any]:
    """A node other than node 0 of a multi-node job: build this node's caches, wait for node
    0's frozen config (which also proves this node sees the run directory), start this node's
    ranks. Node 0 writes everything in the run directory; this returns its metrics."""
    from socio_re.config.tasks import get_task
    from socio_re.launch.nodes import announce, wait_for_config
    from socio_re.launch.spawn import launch
    from socio_re.utils.console import setup_logging

    setup_logging()  # the console (this task's SLURM log) only: node 0 owns run.log
    log.info("node %d of %d (%s): this node's ranks join node 0's run in %s", nodes.rank,
             nodes.count, nodes.hosts[nodes.rank], run_dir)
    get_task(rc.task.name).prepare_shared(rc)  # a node-local cache is built once per node
    announce(run_dir, nodes)
    wait_for_config(run_dir, nodes)
    launch(run_dir, rc.strategy.num_processes, rc.strategy.devices, rc.strategy)
    summary = read_json_or_none(run_dir / SUMMARY_FILE) or {}
    return summary.get("metrics", {})


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
    # The memo of content digests (socio_re.data.digest) lives in the cache: without it every
    # run would read its data and model files again to digest them.
    os.environ.setdefault("SOCIO_RE_CACHE_DIR", rc.paths.cache_dir)
    # Record what "null = all visible GPUs" meant on this machine.
    cfg.strategy.num_processes = rc.strategy.num_processes
    from socio_re.launch.nodes import job_nodes

    nodes = job_nodes()
    if nodes.multi and rc.strategy.name == "single":
        from socio_re.errors import ConfigError

        raise ConfigError("strategy", "single", "ddp, fsdp, zero2 or zero3",
                          f"this job runs on {nodes.count} nodes, and strategy=single trains "
                          "one process; or hydra.launcher.nodes=1")
    finished = read_done(run_dir) if rc.resume != "never" else None
    if finished:
        return report_finished(cfg, run_dir, finished)
    if nodes.rank > 0:
        return _run_other_node(rc, run_dir, nodes)
    resolved = freeze_config(cfg, run_dir)
    clear_done(run_dir)  # this attempt is not done until it writes the marker again
    setup_logging(run_dir)
    print_config_tree(resolved)
    prepare_shared(rc, run_dir)
    if nodes.multi:
        from socio_re.launch.nodes import announce, wait_for_nodes

        announce(run_dir, nodes)  # after the config: the other nodes' ranks read it
        wait_for_nodes(run_dir, nodes)

    if rc.strategy.num_processes > 1 or nodes.multi:
        from socio_re.launch.spawn import launch

        try:
            launch(run_dir, rc.strategy.num_processes, rc.strategy.devices, rc.strategy)
        except UserError:
            _remove_if_fresh(run_dir)  # e.g. the rendezvous port in use: nothing was trained
            raise
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    else:
        summary = execute(rc, resolved, run_dir)
    write_done(run_dir, summary["metrics"], summary["tracking"])
    outputs = {k: Path(v) for k, v in summary["outputs"].items()}
    print_summary(summary["metrics"], run_dir, outputs, summary["tracking"],
                  engine=summary.get("engine"), run_name=summary.get("run_name"),
                  report=summary.get("report") or "")
    return summary["metrics"]
