"""How many processes train together, counting every node of a SLURM job of one task per
node, and which host each rank ran on (files the ranks write in the run directory). Low in the
layers: the config check and the Trainer arguments need the count before anything launches;
the multi-node machinery itself is in socio_re/launch/nodes.py."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

# Where each rank records its host when it starts.
RANKS_DIR = "worker_hosts"


def job_node_count(environ=os.environ) -> int:
    """Nodes of the SLURM job this process runs in when SLURM runs one task per node (each
    node's task starts its own ranks); 1 outside SLURM or with several tasks per node."""
    count = int(environ.get("SLURM_NNODES") or environ.get("SLURM_JOB_NUM_NODES") or 1)
    tasks = int(environ.get("SLURM_NTASKS") or count)
    if count <= 1 or tasks != count or not environ.get("SLURM_NODEID"):
        return 1
    return count


def world_size(num_processes: int | None) -> int:
    """The processes training together: torch's ``WORLD_SIZE`` in a rank, else the strategy's
    processes per node times this job's nodes."""
    env = os.environ.get("WORLD_SIZE")
    if env and env.isdigit():
        return int(env)
    return int(num_processes or 1) * job_node_count()


def record_rank_host(run_dir: Path, rank: int) -> None:
    """Called by each rank as it starts."""
    folder = Path(run_dir) / RANKS_DIR
    folder.mkdir(exist_ok=True)
    (folder / f"rank{rank:04d}.json").write_text(json.dumps(
        {"rank": rank, "host": socket.gethostname(),
         "local_rank": int(os.environ.get("LOCAL_RANK", "0"))}))


def rank_hosts(run_dir: Path) -> dict[int, str]:
    """{rank: host} of the ranks that started in this launch."""
    hosts = {}
    for path in sorted((Path(run_dir) / RANKS_DIR).glob("rank*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        hosts[int(record["rank"])] = record["host"]
    return hosts
