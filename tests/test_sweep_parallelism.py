"""How many sweep jobs run at once on this machine: an explicit ``sweep.max_parallel`` is what
runs (one warning when it asks for more cores or GPUs than there are), null is as many as fit.
Unit level: the function that decides, the warning, the choice of GPUs; no sweep runs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from socio_re.errors import ConfigError
from socio_re.sweeps.local import parallel_slots, pick_gpus

LAUNCHER_LOG = "socio_re.sweeps.launcher"


def cfg(num_processes=None, max_parallel=None):
    return OmegaConf.create({"strategy": {"num_processes": num_processes, "devices": None},
                             "sweep": {"max_parallel": max_parallel}})


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def test_explicit_max_parallel_is_honoured_past_the_cores_with_one_warning(two_cores, caplog):
    with caplog.at_level(logging.WARNING, logger=LAUNCHER_LOG):
        assert parallel_slots(cfg(max_parallel=5), []) == (5, 0)  # was silently 1 (or 2)
    warnings = [r.getMessage() for r in caplog.records if r.name == LAUNCHER_LOG]
    assert warnings == [
        "sweep.max_parallel=5: 5 jobs at once x 2 processes each need 10 CPU cores, this "
        "machine has 2; the jobs will share the cores and each runs slower (null runs 1 at a "
        "time)"]


def test_null_keeps_the_default_and_what_fits_says_nothing(two_cores, caplog):
    with caplog.at_level(logging.WARNING, logger=LAUNCHER_LOG):
        assert parallel_slots(cfg(), []) == (1, 0)  # 2 cores / 2 processes per CPU job
        assert parallel_slots(cfg(num_processes=1), []) == (2, 0)
        assert parallel_slots(cfg(num_processes=1, max_parallel=2), []) == (2, 0)
        assert parallel_slots(cfg(num_processes=1, max_parallel=1), []) == (1, 0)
        assert parallel_slots(cfg(num_processes=4), [0, 1, 2, 3, 4, 5, 6, 7]) == (2, 4)
    assert not [r for r in caplog.records if r.name == LAUNCHER_LOG]


def test_gpu_jobs_warn_about_gpus_not_cores(two_cores, caplog):
    with caplog.at_level(logging.WARNING, logger=LAUNCHER_LOG):
        assert parallel_slots(cfg(num_processes=2, max_parallel=3), [0, 1, 2, 3]) == (3, 2)
    (line,) = [r.getMessage() for r in caplog.records if r.name == LAUNCHER_LOG]
    assert line == ("sweep.max_parallel=3: 3 jobs at once x 2 GPUs each need 6 GPUs, this "
                    "machine has 4; the jobs will share GPUs and may run out of GPU memory "
                    "(null runs 2 at a time)")


@pytest.mark.parametrize("value", [0, -1])
def test_max_parallel_below_one_is_a_config_error(value):
    with pytest.raises(ConfigError, match=r"sweep\.max_parallel=.*null for as many"):
        parallel_slots(cfg(max_parallel=value), [])


def test_jobs_get_free_gpus_first_and_share_only_past_them():
    load = dict.fromkeys([0, 1, 2, 3], 0)

    def start() -> list[int]:
        ids = pick_gpus(load, 2)
        for gpu in ids:
            load[gpu] += 1
        return ids

    # Three 2-GPU jobs on four GPUs (sweep.max_parallel=3): distinct GPUs while free ones last,
    # then the least loaded.
    assert [start(), start(), start()] == [[0, 1], [2, 3], [0, 1]]
    for gpu in (2, 3):  # the second job ends: its GPUs are the free ones again
        load[gpu] -= 1
    assert start() == [2, 3]


def test_the_warning_reaches_the_console():
    """The sweep's launching process configures no logging: the line still reaches stderr."""
    code = ("import os; os.cpu_count = lambda: 2\n"
            "from omegaconf import OmegaConf\n"
            "from socio_re.sweeps.local import parallel_slots\n"
            "parallel_slots(OmegaConf.create({'strategy': {'num_processes': None, 'devices': "
            "None}, 'sweep': {'max_parallel': 5}}), [])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == [
        "sweep.max_parallel=5: 5 jobs at once x 2 processes each need 10 CPU cores, this "
        "machine has 2; the jobs will share the cores and each runs slower (null runs 1 at a "
        "time)"]
