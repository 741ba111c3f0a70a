"""Several Slurm nodes on one machine (``scripts/local_slurm.sh start --nodes 2``: each node in
its own network + UTS namespace), and the multi-node helpers of socio_re/launch/nodes.py."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from slurm_cluster import SCRIPT, slurm_installed

from socio_re.launch import nodes as nodes_mod
from socio_re.launch.nodes import JobNodes, SharedStorageError, job_nodes, lost_hosts
from socio_re.utils import world


def _script(*args: str, env: dict[str, str], timeout: int = 600):
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not slurm_installed():
        pytest.skip("Slurm is not installed (slurm-wlm, munge)")
    directory = tmp_path_factory.mktemp("slurm2")
    env = {**os.environ, "SOCIO_RE_SLURM_DIR": str(directory)}
    started = _script("start", "--nodes", "2", env=env)
    if started.returncode == 4:  # the one line: why namespaces cannot be made here
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield {"dir": directory, "env": {**env, "SLURM_CONF": str(directory / "slurm.conf")}}
    finally:
        stopped = _script("stop", env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_two_nodes_have_their_own_hosts_and_addresses_and_stop_removes_them(two_nodes):
    env, directory = two_nodes["env"], two_nodes["dir"]
    out = directory / "job.out"
    script = directory / "job.sh"
    script.write_text("#!/bin/bash\n#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n"
                      f"#SBATCH --mem=100M\n#SBATCH --output={out}\n"
                      "srun bash -c 'echo \"$SLURM_NODEID $(hostname) "
                      "$(getent ahostsv4 $(hostname) | head -1 | cut -d\" \" -f1)\"'\n")
    submitted = subprocess.run(["sbatch", "--wait", str(script)], env=env, capture_output=True,
                               text=True, timeout=600)
    assert submitted.returncode == 0, submitted.stderr
    lines = sorted(out.read_text().split("\n"))
    rows = [line.split() for line in lines if line.strip()]
    assert [r[:2] for r in rows] == [["0", "node1"], ["1", "node2"]], rows
    addresses = [r[2] for r in rows]
    assert len(set(addresses)) == 2 and all(a.startswith("10.") for a in addresses), rows
    assert not any(a.startswith("127.") for a in addresses)
    # The namespaces exist now, and are gone after stop (checked by the fixture's stop here).
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    tag = [line.split()[0] for line in listed.splitlines() if line.split()[0].endswith("n1")]
    assert tag, listed
    stopped = _script("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert tag[0] not in listed
    assert _script("start", "--nodes", "2", env=env).returncode == 0  # for the fixture's stop


def test_kill_node_takes_it_down_and_start_node_brings_it_back(two_nodes):
    env = two_nodes["env"]
    killed = _script("kill-node", "node2", env=env)
    assert killed.returncode == 0 and "node2 killed" in killed.stdout, killed.stderr
    status = _script("status", env=env)
    assert "slurmd-node2 not running" in status.stdout
    back = _script("start-node", "node2", env=env)
    assert back.returncode == 0 and "node2 is back" in back.stdout, back.stdout + back.stderr
    assert _script("kill-node", "node9", env=env).returncode == 1


def test_job_nodes_reads_one_task_per_node_from_slurm():
    env = {"SLURM_NNODES": "2", "SLURM_NTASKS": "2", "SLURM_NODEID": "1",
           "SLURM_JOB_NODELIST": "node[1-2]", "SLURM_JOB_ID": "7", "SLURM_RESTART_COUNT": "1"}
    got = job_nodes(env)
    assert got == JobNodes(2, 1, ("node1", "node2"), "7.1") and got.multi
    # several tasks per node, or no SLURM: one node as before
    assert not job_nodes({**env, "SLURM_NTASKS": "4"}).multi
    assert not job_nodes({}).multi


def test_a_node_that_cannot_see_the_run_directory_is_one_line(tmp_path, monkeypatch):
    nodes = JobNodes(2, 0, ("node1", "node2"), "7.0")
    monkeypatch.setattr(nodes_mod.socket, "gethostname", lambda: "node1")
    nodes_mod.announce(tmp_path, nodes)
    # node2 announced itself for an earlier attempt only: not this one
    (tmp_path / "nodes" / "node001.json").write_text(json.dumps(
        {"host": "node2", "node": 1, "attempt": "6.0"}))
    started = time.monotonic()
    with pytest.raises(SharedStorageError) as err:
        nodes_mod.wait_for_nodes(tmp_path, nodes, timeout_s=1)
    assert time.monotonic() - started >= 1
    line = str(err.value)
    assert "\n" not in line and line.startswith("node2 did not show up") and \
        str(tmp_path) in line and "hydra.launcher.nodes=1" in line
    (tmp_path / "nodes" / "node001.json").write_text(json.dumps(
        {"host": "node2", "node": 1, "attempt": "7.0"}))
    nodes_mod.wait_for_nodes(tmp_path, nodes, timeout_s=1)  # both here: returns


def test_the_lost_node_is_the_one_whose_ranks_left_no_record(monkeypatch):
    monkeypatch.setattr(nodes_mod.socket, "gethostname", lambda: "node1")
    nodes = JobNodes(3, 0, ("node1", "node2", "node3"), "1.0")
    assert lost_hosts(nodes, {"node1", "node3"}) == ["node2"]
    assert nodes_mod.looks_like_lost_peer("Connection reset by peer")
    assert not nodes_mod.looks_like_lost_peer("CUDA out of memory")


def test_node_lost_exits_75_and_names_the_node():
    exc = nodes_mod.NodeLost(["node2"], "the ranks here stopped")
    assert exc.exit_code == 75 and str(exc).startswith("lost node node2 of the job")


def test_a_multi_node_world_counts_every_node(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    for key, value in {"SLURM_NNODES": "2", "SLURM_NTASKS": "2", "SLURM_NODEID": "0",
                       "SLURM_JOB_NODELIST": "node[1-2]", "SLURM_JOB_ID": "3"}.items():
        monkeypatch.setenv(key, value)
    assert world.world_size(2) == 4
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert world.world_size(2) == 8
