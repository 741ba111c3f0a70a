"""A one-node Slurm cluster for the whole test session (``scripts/local_slurm.sh``), for tests
that submit real jobs through ``sbatch``.

Use it by importing the fixture into a test module (``from slurm_cluster import
slurm_cluster``). Started once, on first use, in its own directory and on its own ports (a
cluster the user started with the script's defaults is left alone), and stopped at the end of
the session: the stop cancels what is still queued and leaves no daemon behind. Skipped, with
the reason, only where Slurm cannot be had: not installed and not root (nothing to install
it with), the packages could not be installed, or (not root) the daemons would not start.
As root with the packages there, a cluster that does not come up is a failure of the script.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_slurm.sh"
COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
# Installing the packages takes minutes on a slow mirror; starting takes seconds. Only to stop
# a hang.
START_TIMEOUT_S = 1800
STOP_TIMEOUT_S = 300


def slurm_installed() -> bool:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return all(shutil.which(cmd, path=path) for cmd in COMMANDS)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port whose successor is free too (slurmctld, slurmd), away from Slurm's defaults."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 40000, 2)
        if _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("no two free consecutive ports between 20000 and 40000")


def _script(action: str, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), action], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _live_pids(directory: Path) -> list[str]:
    pids = []
    for file in (directory / "run").glob("*.pid"):
        pid = file.read_text().strip()
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            pids.append(f"{file.stem}={pid}")
    return pids


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """``{"dir", "conf", "env"}`` of a running one-node cluster; ``env`` (SLURM_CONF) is what a
    command needs to submit to it."""
    root = os.geteuid() == 0
    if not slurm_installed() and not root:
        pytest.skip("Slurm is not installed (slurm-wlm, munge) and only root can install it")
    directory = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SOCIO_RE_SLURM_DIR": str(directory),
           "SOCIO_RE_SLURM_PORT": str(free_port_pair())}
    started = _script("start", env, START_TIMEOUT_S)
    if started.returncode != 0:
        why = (started.stderr.strip().splitlines() or ["no message"])[-1]
        log = f"{started.stdout}{started.stderr}"[-3000:]
        _script("stop", env, STOP_TIMEOUT_S)
        if not slurm_installed():
            pytest.skip(f"Slurm could not be installed: {why}")
        if not root:
            pytest.skip(f"the local Slurm cluster does not start without root here: {why}")
        pytest.fail(f"scripts/local_slurm.sh start failed:\n{log}")
    conf = directory / "slurm.conf"
    assert f"export SLURM_CONF={conf}" in started.stdout, started.stdout
    try:
        yield {"dir": directory, "conf": conf, "env": {"SLURM_CONF": str(conf)}}
    finally:
        stopped = _script("stop", env, STOP_TIMEOUT_S)
        left = _live_pids(directory)
        assert stopped.returncode == 0 and not left, \
            f"stop left {left or 'nothing'}:\n{stopped.stdout}{stopped.stderr}"
