"""Start a run's ranks from inside the job (torchrun's elastic launcher as a library).

``train.py`` composes the config once and freezes it into the run directory; the workers read
that file and never run Hydra again, so there is one run directory, one log and one MLflow run.
A worker that fails fails the whole launch, and its error (the exception message it recorded)
is what the user sees.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path

from socio_re.errors import RunInterrupted, UserError

log = logging.getLogger(__name__)

ERROR_DIR = "worker_errors"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendezvous() -> tuple[int, int, str, int]:
    """(nnodes, node_rank, master address, port): from SLURM for multi-node jobs, else local."""
    if int(os.environ.get("SLURM_NNODES", "1")) > 1:
        from socio_re.launch.slurm import slurm_rendezvous_env

        env = slurm_rendezvous_env(os.environ)
        return env["nnodes"], env["node_rank"], env["master_addr"], env["master_port"]
    # MASTER_PORT, as with torchrun, when the user must pick the port (a firewall); else any
    # free one.
    return 1, 0, "127.0.0.1", int(os.environ.get("MASTER_PORT") or free_port())


def check_port_free(port: int) -> None:
    """The rank-0 node hosts the rendezvous on ``port``; if another process holds it, torch's
    store would connect to that process instead and fail a minute later with C++ frames."""
    from socio_re.errors import environment_problem

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("", port))
        except OSError as exc:
            exc.filename = f"rendezvous port {port}"
            raise environment_problem(exc) from None


class WorkerFailed(Exception):
    """A rank failed with an error that is not the user's to fix."""


def launch(run_dir: Path, num_processes: int, devices: list[int] | None,
           strategy=None) -> None:
    """Start this node's ``num_processes`` ranks and wait for them; on several nodes (a SLURM
    job of one task per node) they meet the other nodes' ranks over the nodes' addresses."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from socio_re.launch.distributed import WORKER_ENV
    from socio_re.launch.nodes import job_nodes
    from socio_re.launch.worker import worker_main
    from socio_re.training.engines import collective_timeout_s
    from socio_re.utils.world import RANKS_DIR

    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d in devices)
    os.environ[WORKER_ENV] = "1"  # inherited by the ranks
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // num_processes)))
    nnodes, node_rank, addr, port = rendezvous()
    if node_rank == 0:
        check_port_free(port)
    timeout_s = collective_timeout_s(strategy) if strategy is not None else 1800
    here = f" on {nnodes} nodes ({', '.join(job_nodes().hosts)})" if nnodes > 1 else ""
    log.info(
        "starting %d processes%s; they meet at %s:%d (each imports torch and the model code "
        "first, about 10-20 s on CPU)", num_processes * nnodes, here, addr, port)
    config = LaunchConfig(
        min_nodes=nnodes, max_nodes=nnodes, nproc_per_node=num_processes,
        run_id=f"socio_re-{run_dir.name}", rdzv_backend="c10d",
        rdzv_endpoint=f"{addr}:{port}",
        # The nodes wait for each other at most strategy.timeout_min (torch: 10 min to join).
        rdzv_configs={"rank": node_rank, "join_timeout": timeout_s},
        max_restarts=0, monitor_interval=0.2, start_method="spawn")
    errors = run_dir / ERROR_DIR
    # Records of an earlier attempt (a resume). On several nodes every node clears before its
    # agent joins the rendezvous, and no rank starts before all have joined.
    shutil.rmtree(errors, ignore_errors=True)
    shutil.rmtree(run_dir / RANKS_DIR, ignore_errors=True)
    from socio_re.training.preemption import ranks_running

    try:
        with ranks_running():  # a SLURM signal meanwhile waits for the ranks' checkpoint
            elastic_launch(config, worker_main)(str(run_dir))
    except ChildFailedError as exc:
        raise _node_lost(errors, nnodes) or _worker_error(errors, exc) from None
    except Exception as exc:  # the rendezvous itself: a node never came or went away
        lost = _node_lost(errors, nnodes, str(exc)) if nnodes > 1 else None
        if lost is None:
            raise
        raise lost from None
    finally:
        os.environ.pop(WORKER_ENV, None)
    # Ranks that stopped on purpose (trainer.stop_at_step, a SLURM signal) exit cleanly and
    # leave a record.
    stopped = _worker_error(errors, None) if errors.is_dir() else None
    if isinstance(stopped, RunInterrupted):
        raise stopped


def _rank_records(errors: Path) -> list[dict]:
    """The error records the ranks of this launch left (worker.py writes one per failing rank)."""
    return [json.loads(p.read_text()) for p in sorted(errors.glob("rank*.json"))] \
        if errors.is_dir() else []


def _node_lost(errors: Path, nnodes: int, detail: str = "") -> Exception | None:
    """On several nodes: when the ranks failed because peers vanished (a node died, or its
    ranks did), :class:`NodeLost` naming the nodes none of whose ranks reported; else None."""
    if nnodes <= 1:
        return None
    from socio_re.launch.nodes import NodeLost, job_nodes, looks_like_lost_peer, lost_hosts

    records = _rank_records(errors)
    if any(r.get("user_error") or r.get("interrupted") for r in records):
        return None  # a rank's own one-line error or a planned stop: not a lost node
    messages = [r["message"] for r in records] + ([detail] if detail else [])
    if messages and not any(looks_like_lost_peer(m) for m in messages):
        return None  # a real error in a rank: shown as such
    nodes = job_nodes()
    lost = lost_hosts(nodes, {r.get("host", "") for r in records})
    first = next((m for m in messages if looks_like_lost_peer(m)), messages[0] if messages
                 else "its ranks stopped answering")
    return NodeLost(lost, f"the ranks here stopped ({' '.join(first.split())[:200]})")


def _worker_error(errors: Path, exc: Exception | None) -> Exception:
    """The failing rank's own message: a UserError stays one line; anything else is shown."""
    records = _rank_records(errors)
    # A rank that lost its peer reports the peer's crash, not the cause: show the cause first.
    records.sort(key=lambda r: "closed by peer" in r["message"] or "remote worker" in r["message"])
    if records:
        first = records[0]
        if first.get("interrupted"):
            return RunInterrupted(first["message"])
        if first.get("user_error"):
            return UserError(first["message"])
        return WorkerFailed(f"rank {first['rank']} failed: {first['type']}: {first['message']}"
                            f"\n{first.get('traceback', '')}")
    return WorkerFailed(str(exc))
