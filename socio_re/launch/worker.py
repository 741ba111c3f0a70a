"""The function every rank runs: read the frozen config, set up distributed, run the task."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record


@record
def worker_main(run_dir: str) -> None:
    from socio_re.utils.console import quiet_library_loggers

    # Before the imports below pull in bitsandbytes: its "kernels" notice, once per rank, is
    # nothing a user can act on (as in the parent, which calls this first too).
    quiet_library_loggers()
    from omegaconf import OmegaConf

    from socio_re.config.validate import validate_config
    from socio_re.errors import RunInterrupted, UserError, environment_problem
    from socio_re.execute import execute
    from socio_re.launch.distributed import init_deepspeed, rank
    from socio_re.training.preemption import install_rank_handler
    from socio_re.utils.console import setup_logging

    install_rank_handler()  # SLURM's time-limit signal: checkpoint, not sudden death
    path = Path(run_dir)
    from socio_re.utils.world import record_rank_host

    record_rank_host(path, rank())  # which host each rank ran on (engine line, markers)
    # Rank 0 appends to the run's log (the parent already opened it); the others stay quiet.
    setup_logging(path if rank() == 0 else None)
    if rank() != 0:
        import logging

        logging.getLogger().setLevel(logging.WARNING)
    try:
        cfg = OmegaConf.load(path / "config.yaml")
        rc = validate_config(cfg)
        if rc.strategy.deepspeed:
            init_deepspeed(rc.strategy)
        execute(rc, OmegaConf.to_container(cfg, resolve=True), path)
    except BaseException as exc:
        # A full disk or a port in use in a rank is one line too, as in a single process.
        problem = environment_problem(exc) if isinstance(exc, Exception) else None
        errors = path / "worker_errors"
        errors.mkdir(exist_ok=True)
        import socket

        (errors / f"rank{rank():03d}.json").write_text(json.dumps({
            "rank": rank(), "host": socket.gethostname(), "type": type(exc).__name__,
            "message": str(problem or exc),
            "user_error": isinstance(exc, UserError) or problem is not None,
            "interrupted": isinstance(exc, RunInterrupted),
            "traceback": _clip("".join(traceback.format_exception(exc)))}))
        if isinstance(exc, RunInterrupted):
            return  # a planned stop, not a crash: the launcher reads the record and says so
        raise


def _clip(text: str, keep: int = 3000) -> str:
    """Head and tail of a long traceback: the frames say where, the last lines say what."""
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}\n[... {len(text) - 2 * keep} characters ...]\n{text[-keep:]}"
