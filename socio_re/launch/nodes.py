"""A job on several nodes: which node this is, the check that every node sees the run
directory, the bounded wait for a lost peer, and which node was lost when ranks fail.

SLURM starts one task per node (``hydra.launcher.nodes=N``, ``tasks_per_node=1``); each task
runs ``train.py``'s job and starts ``strategy.num_processes`` ranks, which meet over the nodes'
own addresses (:mod:`socio_re.launch.spawn`). Node 0 (``SLURM_NODEID=0``) alone writes the run
directory; the others only start their ranks. Everything below goes through files in the run
directory, because the nodes share nothing else before the ranks have met: so the run directory
must be on a filesystem every node mounts, and :func:`wait_for_nodes` says so in one line when a
node cannot see it, before anything trains.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from socio_re.errors import UserError
from socio_re.utils.world import job_node_count

# Where each node's task announces itself for this attempt of the job.
NODES_DIR = "nodes"
# How long node 0 waits for every node's announcement, and every node for node 0's config.
# Generous: a node's task starts when srun gets to it, and imports torch first on a busy node.
NODE_WAIT_S = float(os.environ.get("SOCIO_RE_NODE_WAIT_S", "300"))


@dataclass(frozen=True)
class JobNodes:
    """This task's place in a SLURM job of one task per node."""

    count: int = 1
    rank: int = 0
    hosts: tuple[str, ...] = ()
    attempt: str = ""  # SLURM job id and restart count: announcements of an earlier attempt
    #                    (before a requeue) are not this one's

    @property
    def multi(self) -> bool:
        return self.count > 1


def job_nodes(environ=os.environ) -> JobNodes:
    """The nodes of the SLURM job this process runs in; one node outside SLURM, or when SLURM
    runs several tasks per node (then each task is a job of its own, as before)."""
    count = job_node_count(environ)
    if count <= 1:
        return JobNodes()
    from socio_re.launch.slurm import expand_nodelist

    hosts = tuple(expand_nodelist(environ.get("SLURM_JOB_NODELIST")
                                  or environ.get("SLURM_NODELIST") or ""))
    job = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID") or ""
    return JobNodes(count, int(environ["SLURM_NODEID"]), hosts,
                    f"{job}.{environ.get('SLURM_RESTART_COUNT', '0')}")


def announce(run_dir: Path, nodes: JobNodes) -> None:
    """This node's task is here and sees ``run_dir`` (node 0 waits for every node's file)."""
    folder = run_dir / NODES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    tmp = folder / f".{host}.tmp"
    tmp.write_text(json.dumps({"host": host, "node": nodes.rank, "attempt": nodes.attempt,
                               "pid": os.getpid()}))
    tmp.replace(folder / f"node{nodes.rank:03d}.json")


def _announced(run_dir: Path, nodes: JobNodes) -> dict[int, str]:
    found = {}
    for path in (run_dir / NODES_DIR).glob("node*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written
        if record.get("attempt") == nodes.attempt:
            found[int(record["node"])] = record["host"]
    return found


def wait_for_nodes(run_dir: Path, nodes: JobNodes, timeout_s: float = NODE_WAIT_S) -> None:
    """On node 0: wait until every node of the job announced itself in ``run_dir``; a node that
    does not within ``timeout_s`` cannot see it (or never started): one line, before training."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = _announced(run_dir, nodes)
        if len(found) == nodes.count:
            return
        if time.monotonic() > deadline:
            missing = [nodes.hosts[i] if i < len(nodes.hosts) else f"node {i}"
                       for i in range(nodes.count) if i not in found]
            raise SharedStorageError(
                f"{', '.join(missing)} did not show up in the run directory {run_dir} within "
                f"{timeout_s:.0f} s: a job on {nodes.count} nodes needs the run directory, the "
                "cache and the MLflow store on a filesystem every node mounts (see "
                "docs/sweeps-and-slurm.md#several-nodes); check that the node mounts it, or "
                "run on one node (hydra.launcher.nodes=1)")
        time.sleep(0.5)


def wait_for_config(run_dir: Path, nodes: JobNodes, timeout_s: float = NODE_WAIT_S) -> None:
    """On nodes other than 0: wait for node 0's announcement of this attempt, after which its
    frozen ``config.yaml`` is the one the ranks read."""
    deadline = time.monotonic() + timeout_s
    while 0 not in _announced(run_dir, nodes):
        if time.monotonic() > deadline:
            raise SharedStorageError(
                f"{socket.gethostname()} does not see node 0 ({nodes.hosts[0]}) in the run "
                f"directory {run_dir} after {timeout_s:.0f} s: a job on {nodes.count} nodes needs "
                "the run directory on a filesystem every node mounts (see "
                "docs/sweeps-and-slurm.md#several-nodes)")
        time.sleep(0.5)


class SharedStorageError(UserError):
    """A node of a multi-node job cannot see the run directory."""


class NodeLost(UserError):
    """A node of the job died (or its ranks did): the survivors stopped. On SLURM the job is
    requeued and resumes from its newest complete checkpoint."""

    exit_code = 75  # EX_TEMPFAIL: try again

    def __init__(self, hosts: list[str], detail: str):
        self.hosts = hosts
        super().__init__(f"lost node {', '.join(hosts) or '(unknown)'} of the job: {detail}")


def lost_hosts(nodes: JobNodes, reported: set[str]) -> list[str]:
    """The job's hosts none of whose ranks left an error record (a rank that loses its peer
    records that; a killed node's ranks record nothing), this host excepted."""
    here = socket.gethostname()
    return [h for h in nodes.hosts if h not in reported and h != here]


# Fragments of the errors a rank gets when a peer vanishes mid-collective (gloo, NCCL, c10d's
# store), lower case.
PEER_LOST = ("connection reset by peer", "connection closed by peer", "broken pipe",
             "remote worker", "connection refused", "timed out", "timeout",
             "socket closed", "recvbytes", "read error", "nccl communicator was aborted",
             "connection was likely closed", "connection reset", "end of file")


def looks_like_lost_peer(message: str) -> bool:
    text = message.lower()
    return any(fragment in text for fragment in PEER_LOST)
