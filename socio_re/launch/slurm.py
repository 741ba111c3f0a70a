"""SLURM helpers: the sbatch script a launcher config submits, and multi-node rendezvous.

:func:`render_sbatch` goes through submitit's own ``SlurmExecutor`` with the parameters
translated exactly as ``hydra_submitit_launcher`` translates them, so the text is what
``python train.py -m hydra/launcher=slurm ...`` would hand to ``sbatch`` (one sweep point; a sweep
adds an ``--array`` line). It needs no cluster: nothing is submitted.

:func:`slurm_rendezvous_env` turns the SLURM environment of one node's task into torchrun's
``nnodes`` / ``node_rank`` / ``master_addr`` / ``master_port``, parsing compressed node lists
itself because ``scontrol`` is not available everywhere this runs (CPU CI).

:class:`QueueStateWatcher` is submitit's job-state poller for clusters with or without
accounting: ``sacct`` while it works, else ``squeue`` (one warning, not one per poll).
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from submitit.slurm.slurm import SlurmInfoWatcher

from socio_re.config.paths import CONF_DIR
from socio_re.errors import ConfigError, UserError

log = logging.getLogger(__name__)

LAUNCHER_DIR = CONF_DIR / "hydra" / "launcher"
# Ours (resumable sweeps) and the plain plugin's, both on submitit's SLURM executor.
SLURM_TARGETS = ("hydra_plugins.socio_re_launcher.launcher.SlurmSweepLauncher",
                 "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher")
# Keys the plugin passes to the executor's constructor instead of update_parameters.
_INIT_KEYS = {"submitit_folder", "max_num_timeout", "_target_"}
# The port range the rendezvous port is drawn from (job id modulo its size): above the
# well-known and registered service ports most clusters use.
PORT_BASE = 20000
PORT_SPAN = 20000


def slurm_launchers() -> list[str]:
    """Names of the launcher presets in conf/hydra/launcher that submit to SLURM."""
    return sorted(p.stem for p in LAUNCHER_DIR.glob("slurm*.yaml"))


def compose_train(overrides: list[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides`` and the Hydra node, on a SLURM launcher.

    ``hydra/launcher=slurm`` is added unless the overrides pick a launcher themselves.
    """
    from hydra import compose, initialize_config_dir

    from socio_re.sweeps.naming import register_resolvers

    register_resolvers()
    if not any(o.lstrip("+~").startswith("hydra/launcher=") for o in overrides):
        overrides = ["hydra/launcher=slurm", *overrides]
    # job_name "train" so ${hydra.job.name} (the job name in the script) matches train.py's.
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


def _launcher_params(cfg: DictConfig) -> dict[str, Any]:
    """The resolved launcher node (``cfg.hydra.launcher``, or ``cfg`` itself if it is one)."""
    node = cfg.hydra.launcher if "hydra" in cfg else cfg
    params = OmegaConf.to_container(node, resolve=True)
    assert isinstance(params, dict)
    if params.get("_target_") not in SLURM_TARGETS:
        # Name the option the user picked (hydra/launcher=local), not the plugin class.
        choice = OmegaConf.select(cfg, "hydra.runtime.choices.hydra/launcher",
                                  default=params.get("_target_"))
        raise ConfigError("hydra/launcher", choice, ", ".join(slurm_launchers()),
                          "the sbatch script exists only for a SLURM launcher")
    if params.get("tasks_per_node") != 1:
        raise ConfigError("hydra.launcher.tasks_per_node", params.get("tasks_per_node"), "1",
                          "the job starts its own ranks (strategy.num_processes); more tasks "
                          "per node would run the whole job several times on the same GPUs")
    return params


def _render_only_executor(folder: str, max_num_timeout: int):
    """A submitit SlurmExecutor that can be built where ``srun`` does not exist."""
    from submitit.slurm.slurm import SlurmExecutor

    class RenderOnlySlurmExecutor(SlurmExecutor):
        # SlurmExecutor refuses to exist without srun; rendering a script never runs it.
        @classmethod
        def affinity(cls) -> int:
            return 2

    return RenderOnlySlurmExecutor(folder, max_num_timeout=max_num_timeout)


def render_sbatch(cfg: DictConfig) -> str:
    """The sbatch script submitit would submit for the composed launcher config.

    ``cfg`` is a config composed with ``return_hydra_config=True`` (or its ``hydra.launcher``).
    Mirrors ``BaseSubmititLauncher.launch``: generic keys (timeout_min, mem_gb, ...) go through
    the executor's renaming/conversion, SLURM-specific ones pass through, None means unset.
    """
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = _launcher_params(cfg)
    executor = _render_only_executor(params["submitit_folder"], params["max_num_timeout"])
    generic_keys = set(OmegaConf.structured(BaseQueueConf).keys()) - _INIT_KEYS
    set_params = {k: v for k, v in params.items() if k not in _INIT_KEYS and v is not None}
    generic = {k: v for k, v in set_params.items() if k in generic_keys}
    specific = {k: v for k, v in set_params.items() if k not in generic_keys}
    executor.update_parameters(**executor._convert_parameters(generic), **specific)
    return executor._make_submission_file_text(executor._submitit_command_str, uid="render")


# --- multi-node rendezvous -------------------------------------------------------------------


def expand_nodelist(nodelist: str) -> list[str]:
    """Host names of a SLURM node list, in order: ``gpu[01-03,07],cpu1`` → five names.

    submitit's parser (the one ``SlurmJobEnvironment.hostnames`` runs on the job's own
    environment; here it reads the mapping it is given, so tests and other environments work)
    plus the checks it leaves out: balanced brackets and ascending ranges."""
    from submitit.slurm.slurm import SlurmParseException, _parse_node_list

    problem = None
    if nodelist.count("[") != nodelist.count("]") or re.search(r"\[[^\]]*\[", nodelist):
        problem = "unbalanced brackets"
    ranges = [r for inside in re.findall(r"\[([^\]]*)\]", nodelist)
              for r in re.findall(r"(\d+)-(\d+)", inside)]  # only bracketed ranges
    descending = [r for r in ranges if int(r[1]) < int(r[0])]
    if descending:
        problem = f"descending range {'-'.join(descending[0])!r}"
    if problem is None:
        try:
            hosts = [h for h in _parse_node_list(nodelist.strip()) if h]
        except (SlurmParseException, ValueError) as exc:
            problem = str(exc.args[0] if exc.args else exc)
    if problem is not None:
        raise UserError(f"cannot parse SLURM_JOB_NODELIST={nodelist!r}: {problem}") from None
    if not hosts:
        raise UserError(f"SLURM_JOB_NODELIST={nodelist!r} names no host")
    return hosts


def _env_int(environ: Mapping[str, str], *names: str) -> int:
    """The first of ``names`` that is set, as an int (SLURM renamed some variables over time)."""
    for name in names:
        if environ.get(name, "").strip():
            value = environ[name].strip()
            # SLURM_JOB_ID is a plain integer, but be lenient with array-style ids ("123_4").
            digits = value.split("_")[0]
            if not digits.isdigit():
                raise UserError(f"{name}={value!r} is not an integer")
            return int(digits)
    raise UserError(f"{names[0]} is not set: a multi-node run must start inside a SLURM job "
                    "(srun/sbatch), one task per node")


def slurm_rendezvous_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``nnodes``, ``node_rank``, ``master_addr`` and ``master_port`` for one node's task.

    The master is the first host of the job's node list, where node 0 runs; every node derives
    the same port from the job id (20000 + id % 20000), so no node has to tell the others.
    """
    nnodes = _env_int(environ, "SLURM_NNODES", "SLURM_JOB_NUM_NODES")
    node_rank = _env_int(environ, "SLURM_NODEID")
    job_id = _env_int(environ, "SLURM_JOB_ID", "SLURM_JOBID")
    nodelist = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST") or ""
    if not nodelist.strip():
        raise UserError("SLURM_JOB_NODELIST is not set: a multi-node run must start inside a "
                        "SLURM job (srun/sbatch), one task per node")
    hosts = expand_nodelist(nodelist)
    if len(hosts) != nnodes:
        raise UserError(f"SLURM_JOB_NODELIST={nodelist!r} names {len(hosts)} hosts but "
                        f"SLURM_NNODES={nnodes}")
    if not 0 <= node_rank < nnodes:
        raise UserError(f"SLURM_NODEID={node_rank} is outside 0..{nnodes - 1}")
    return {"nnodes": nnodes, "node_rank": node_rank, "master_addr": hosts[0],
            "master_port": PORT_BASE + job_id % PORT_SPAN}


# --- job states without accounting -----------------------------------------------------------

# The state given to a job the controller no longer lists (it ended longer ago than the
# cluster's MinJobAge); submitit then looks for its result file, else reports it as dead.
ENDED = "ENDED"


class QueueStateWatcher(SlurmInfoWatcher):
    """submitit's ``SlurmInfoWatcher`` (one poll for all jobs, the same back-off), quiet and
    still correct on a cluster without accounting.

    submitit asks ``sacct`` and, when that fails, logs a warning at every poll and never
    learns a job's state: a job that dies without writing its result then looks RUNNING
    forever. Here the first failure of ``sacct`` logs one line, and from then on the states
    come from ``squeue`` (``-t all``: finished jobs too, for the controller's MinJobAge);
    a job ``squeue`` no longer lists has ended (:data:`ENDED`). Other failures of either
    command log at debug level and leave the states as they were, as submitit does."""

    def __init__(self, delay_s: int = 600) -> None:
        super().__init__(delay_s=delay_s)
        self.use_squeue = False

    def update(self) -> None:
        ids = sorted({job.split("_")[0] for job in self._registered - self._finished})
        if not ids:
            return
        self._num_calls += 1
        info = None if self.use_squeue else self._from_sacct(ids)
        if info is None and self.use_squeue:
            info = self._from_squeue(ids)
        if info is not None:
            self._info_dict.update(info)
        self._last_status_check = time.time()
        for job_id in self._registered - self._finished:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)

    def _from_sacct(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
        command = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
        for job in ids:
            command += ["-j", job]
        out = _run_quietly(command)
        if out is not None and out.returncode == 0:
            self._output = out.stdout.encode()
            return self.read_info(out.stdout)
        why = _first_line(out.stderr if out is not None else "") or \
            ("not found" if out is None else f"exit {out.returncode}")
        log.warning("no Slurm accounting here (sacct: %s); job states come from squeue", why)
        self.use_squeue = True
        return None

    def _from_squeue(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
        out = _run_quietly(["squeue", "--noheader", "--array", "--states=all",
                            "--format=%i|%T|%N", "--jobs=" + ",".join(ids)])
        if out is None:
            log.debug("squeue could not run; Slurm job states unchanged")
            return None
        if out.returncode != 0 and "invalid job id" not in out.stderr.lower():
            log.debug("squeue failed (%s); Slurm job states unchanged", _first_line(out.stderr))
            return None
        # rc 1 "Invalid job id specified": none of them is known to the controller any more.
        listed = out.stdout if out.returncode == 0 else ""
        self._output = listed.encode()
        info = self.read_info("JobID|State|NodeList\n" + listed)
        for job in self._registered - self._finished:
            if job not in info:
                known = self._info_dict.get(job, {})
                if job.split("_")[0] not in {key.split("_")[0] for key in info}:
                    info[job] = {**known, "JobID": job, "State": ENDED}
        return info


def _run_quietly(command: list[str]) -> subprocess.CompletedProcess | None:
    """The command's result with its output captured (nothing reaches the terminal); None
    when it cannot run (not installed) or hangs."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("%s: %s", command[0], exc)
        return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def use_queue_state_watcher() -> QueueStateWatcher:
    """Make submitit's SLURM jobs (created from now on in this process) poll through
    :class:`QueueStateWatcher`; idempotent. submitit keeps one watcher on the job class and
    builds array jobs with that class directly, so the class attribute is where it goes."""
    from submitit.slurm.slurm import SlurmJob

    if not isinstance(SlurmJob.watcher, QueueStateWatcher):
        SlurmJob.watcher = QueueStateWatcher(delay_s=SlurmJob.watcher._delay_s)
    return SlurmJob.watcher
