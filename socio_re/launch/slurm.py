"""SLURM helpers: the sbatch script a launcher config submits, and multi-node rendezvous.

:func:`render_sbatch` goes through submitit's own ``SlurmExecutor`` with the parameters
translated exactly as ``hydra_submitit_launcher`` translates them, so the text is what
``python train.py -m hydra/launcher=slurm ...`` would hand to ``sbatch`` (one sweep point; a sweep
adds an ``--array`` line). It needs no cluster: nothing is submitted.

:func:`slurm_rendezvous_env` turns the SLURM environment of one node's task into torchrun's
``nnodes`` / ``node_rank`` / ``master_addr`` / ``master_port``, parsing compressed node lists
itself because ``scontrol`` is not available everywhere this runs (CPU CI).

:func:`submission_errors` (around the submission) and :func:`check_submittable` (``sbatch
--test-only`` before it) turn sbatch's refusals into one :class:`SubmissionError` line: sbatch's
reason and the hydra.launcher key that fixes it.

:class:`QueueStateWatcher` is submitit's job-state poller for clusters with or without
accounting: ``sacct`` while it works, else ``squeue`` (one warning, not one per poll).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from submitit.slurm.slurm import SlurmInfoWatcher

import socio_re.sweeps.submitit_adapter as submitit_adapter
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


def compose_sweep(overrides: list[str]) -> tuple[DictConfig, int]:
    """(config of the sweep's first job, number of jobs) for ``python train.py -m OVERRIDES``:
    Hydra's basic sweeper makes ``seed=1,2 lr=1e-5,2e-5`` four jobs, one job array on SLURM.
    The sweep directory is named after the whole sweep's overrides, as in the real sweep."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict

    parsed = OverridesParser.create().parse_overrides(overrides)
    jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    cfg = compose_train(jobs[0])
    if len(jobs) > 1:
        with open_dict(cfg):
            cfg.hydra.overrides.task = [o.input_line for o in parsed
                                        if not o.is_hydra_override()]
    return cfg, len(jobs)


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


def render_sbatch(cfg: DictConfig, jobs: int = 1) -> str:
    """The sbatch script submitit would submit for the composed launcher config.

    ``cfg`` is a config composed with ``return_hydra_config=True`` (or its ``hydra.launcher``).
    Mirrors ``BaseSubmititLauncher.launch``: generic keys (timeout_min, mem_gb, ...) go through
    the executor's renaming/conversion, SLURM-specific ones pass through, None means unset.
    ``jobs`` > 1: the job array a sweep of that many points submits, ``--array=0-<jobs-1>%<N>``
    with N = ``sweep.max_parallel`` (else ``hydra.launcher.array_parallelism``), as the sweep
    launcher sets it.
    """
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = _launcher_params(cfg)
    executor = _render_only_executor(params["submitit_folder"], params["max_num_timeout"])
    generic_keys = set(OmegaConf.structured(BaseQueueConf).keys()) - _INIT_KEYS
    set_params = {k: v for k, v in params.items() if k not in _INIT_KEYS and v is not None}
    generic = {k: v for k, v in set_params.items() if k in generic_keys}
    specific = {k: v for k, v in set_params.items() if k not in generic_keys}
    executor.update_parameters(**submitit_adapter.convert_parameters(executor, generic),
                               **specific)
    if jobs > 1:
        wanted = OmegaConf.select(cfg, "sweep.max_parallel") if "hydra" in cfg else None
        set_array(executor, jobs, wanted)
    return submitit_adapter.submission_script(executor, uid="render")


def set_array(executor, jobs: int, max_parallel: int | None) -> None:
    """Make ``executor`` (submitit's SlurmExecutor, or an AutoExecutor on one) write the
    script of a ``jobs``-point job array at most ``max_parallel`` at once (None: its
    array_parallelism), as ``SlurmExecutor.map_array`` does."""
    slurm = submitit_adapter.slurm_executor(executor)
    if max_parallel:
        slurm.update_parameters(array_parallelism=int(max_parallel))
    slurm.parameters["map_count"] = jobs


# --- submission errors -----------------------------------------------------------------------


class SubmissionError(UserError):
    """sbatch refused the sweep's jobs (nothing was submitted): sbatch's own reason and the
    hydra.launcher key that fixes it, on one line."""


# sbatch's reason (lowercase fragment) -> the fix, first match wins. Reasons are Slurm's
# slurm_strerror texts (src/common/slurm_errno.c) and sbatch's own option checks.
_FIXES: tuple[tuple[str, str], ...] = (
    # Before "account" and "qos": "Job violates accounting/QOS policy (job submit limit, ...)".
    ("accounting/qos policy", "the job is over a limit of your account or QOS, e.g. the number "
                              "of queued jobs (each array task counts; sweep.max_parallel does "
                              "not lower it): wait for jobs to end, split the sweep, or ask "
                              "for less (sacctmgr show qos)"),
    ("maxsubmit", "you are at the cluster's limit on queued jobs (each array task counts): "
                  "wait for jobs to end, or split the sweep"),
    # Before "partition": "Invalid account or account/partition combination specified".
    ("account", "set hydra.launcher.account=<a project you belong to> "
                "(sacctmgr show assoc user=$USER lists them)"),
    ("partition", "set hydra.launcher.partition to one you may use{partitions}"),
    ("qos", "set hydra.launcher.qos to one your account may use, or null for the default "
            "(sacctmgr show assoc user=$USER format=account,qos)"),
    ("feature specification", "hydra.launcher.constraint names a node feature no node has "
                              "(sinfo -o '%P %f' lists them), or null"),
    ("gres", "hydra.launcher.gpus_per_node asks for GPUs this partition has none of, or more "
             "than a node has (sinfo -o '%P %G'); 0 for a CPU partition"),
    ("memory specification", "lower hydra.launcher.mem_gb to what a node has "
                             "(sinfo -o '%P %m' in MB)"),
    ("node configuration is not available",
     "no node has that much: lower hydra.launcher.cpus_per_task, mem_gb, gpus_per_node or "
     "nodes (sinfo -o '%P %D %c %m %G' lists node sizes)"),
    ("more processors requested", "lower hydra.launcher.cpus_per_task or nodes"),
    ("node count", "lower hydra.launcher.nodes (sinfo -o '%P %D' lists nodes per partition)"),
    ("time limit", "lower hydra.launcher.timeout_min to the partition's limit "
                   "(sinfo -o '%P %l')"),
    ("job array", "the sweep has more jobs than the cluster's MaxArraySize allows in one array "
                  "(scontrol show config | grep MaxArraySize): split it into smaller sweeps"),
    ("slurm controller", "the Slurm controller does not answer (scontrol ping); try again, or "
                         "check SLURM_CONF"),
    ("permission denied", "you may not submit there: check hydra.launcher.partition and "
                          "account"),
    ("not permitted", "you may not submit there: check hydra.launcher.partition and account"),
)
_SCRIPT_HINT = ("python -m socio_re.cli.slurm_script <the same overrides> prints the script "
                "that was refused")


def sbatch_reasons(stderr: str) -> list[str]:
    """sbatch's error messages without the ``sbatch: error:`` and ``Batch job submission
    failed:`` prefixes, each once (warnings only when there is nothing else)."""
    reasons: list[str] = []
    warnings: list[str] = []
    for raw in stderr.splitlines():
        text = raw.strip()
        warning = text.lower().startswith(("sbatch: warning", "warning"))
        for prefix in ("sbatch: error:", "sbatch: warning:", "sbatch:", "error:",
                       "allocation failure:"):
            if text.lower().startswith(prefix):
                text = text[len(prefix):].strip()
        text = re.sub(r"^batch job submission failed:\s*", "", text, flags=re.IGNORECASE)
        if not text:
            continue
        target = warnings if warning else reasons
        if text.lower() not in {r.lower() for r in target}:
            target.append(text)
    return reasons or warnings


def _partitions() -> str:
    """", partitions here: a, b*" (sinfo; * marks the default), or "" when sinfo cannot say."""
    try:
        out = subprocess.run(["sinfo", "--noheader", "--format=%P"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    names = sorted({line.strip() for line in out.stdout.splitlines() if line.strip()})
    return f" (here: {', '.join(names)}; * is the default)" if out.returncode == 0 and names \
        else " (sinfo -s lists them)"


def sbatch_line(stderr: str, jobs: int = 1) -> str:
    """The one line for sbatch's refusal ``stderr``: its reason, then the fix."""
    reasons = sbatch_reasons(stderr) or ["no message (exit status only)"]
    reason = reasons[0] + (f" ({'; '.join(reasons[1:])})" if len(reasons) > 1 else "")
    lowered = " ".join(reasons).lower()
    fix = next((fix for fragment, fix in _FIXES if fragment in lowered), None)
    if fix is not None and "{partitions}" in fix:
        fix = fix.format(partitions=_partitions())
    what = f"the sweep's {jobs} jobs" if jobs > 1 else "the job"
    return (f"sbatch refused {what}, nothing was submitted: {reason}; "
            f"{fix or 'fix the hydra.launcher setting it names (' + _SCRIPT_HINT + ')'}")


def sbatch_error_line(exc: BaseException, jobs: int = 1) -> str | None:
    """The one line for an exception submitit raised while submitting, when ``sbatch``
    refused or could not run; None for anything else (a bug keeps its traceback).

    submitit raises ``FailedJobError(<sbatch's stderr>)`` from a ``CalledProcessError`` when
    sbatch exits non-zero, ``FileNotFoundError`` when there is no sbatch, and
    ``FailedSubmissionError`` when it cannot read the job id from sbatch's output."""
    from submitit.core.utils import FailedSubmissionError

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, subprocess.CalledProcessError) and _is_sbatch(exc.cmd):
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
                else str(exc.stderr or exc.output or "")
            return sbatch_line(stderr, jobs)
        if isinstance(exc, FileNotFoundError) and _is_sbatch([exc.filename or ""]):
            return ("sbatch not found: submit from a Slurm login node (where sbatch is on PATH), "
                    "or run the sweep on this machine with hydra/launcher=local")
        if isinstance(exc, FailedSubmissionError):
            return f"sbatch gave no job id: {' '.join(str(exc).split())[:300]}"
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def _is_sbatch(cmd: Any) -> bool:
    first = cmd[0] if isinstance(cmd, (list, tuple)) and cmd else cmd
    return str(first).rsplit("/", 1)[-1] == "sbatch"


@contextlib.contextmanager
def submission_errors(jobs: int = 1) -> Iterator[None]:
    """Around submitit's ``submit`` / ``map_array``: sbatch's refusal becomes one
    :class:`SubmissionError` line (exit 2) instead of a traceback, and the raw stderr submitit
    prints before raising is kept off the terminal (on success it is passed through)."""
    captured = io.StringIO()
    line = None
    try:
        with contextlib.redirect_stderr(captured):
            yield
    except Exception as exc:
        line = sbatch_error_line(exc, jobs)
        if line is None:
            raise
        raise SubmissionError(line) from exc
    finally:
        if line is None and captured.getvalue():
            sys.stderr.write(captured.getvalue())


def check_submittable(executor, jobs: int, max_parallel: int | None = None) -> None:
    """``sbatch --test-only`` on the script ``executor`` would submit for ``jobs`` jobs (an
    array when more than one): raises :class:`SubmissionError` when the controller refuses it,
    before anything is submitted or an MLflow run opened. Catches what sbatch accepts but no
    node can ever run on clusters without EnforcePartLimits (the job would pend forever with
    reason PartitionConfig): too many CPUs, too many nodes. A controller that does not answer
    in time is left to the real submission."""
    import copy
    import tempfile

    slurm = copy.deepcopy(submitit_adapter.slurm_executor(executor))
    if jobs > 1:
        set_array(slurm, jobs, max_parallel)
    text = submitit_adapter.submission_script(slurm, uid="test-only")
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="socio_re_sbatch_") as file:
        file.write(text)
        file.flush()
        try:
            out = subprocess.run(["sbatch", "--test-only", file.name], capture_output=True,
                                 text=True, timeout=60)
        except FileNotFoundError as exc:
            exc.filename = "sbatch"
            raise SubmissionError(sbatch_error_line(exc, jobs) or str(exc)) from None
        except subprocess.TimeoutExpired:
            log.debug("sbatch --test-only did not answer in 60 s; submitting anyway")
            return
    if out.returncode != 0:
        raise SubmissionError(sbatch_line(out.stderr or out.stdout, jobs))


# --- multi-node rendezvous -------------------------------------------------------------------


def expand_nodelist(nodelist: str) -> list[str]:
    """Host names of a SLURM node list, in order: ``gpu[01-03,07],cpu1`` → five names.

    submitit's parser (the one ``SlurmJobEnvironment.hostnames`` runs on the job's own
    environment; here it reads the mapping it is given, so tests and other environments work)
    plus the checks it leaves out: balanced brackets and ascending ranges."""
    from submitit.slurm.slurm import SlurmParseException

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
            hosts = [h for h in submitit_adapter.parse_node_list(nodelist.strip()) if h]
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
# Job states (squeue's and sacct's long names) of a job that is not over although submitit's
# list of unfinished states lacks them.
STILL_ON_CLUSTER = frozenset({"CONFIGURING", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",
                              "RESV_DEL_HOLD", "SIGNALING", "STAGE_OUT", "STOPPED", "SUSPENDED"})


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

    def is_done(self, job_id: str, mode: str = "standard") -> bool:
        """submitit's test, with the states in which a job is still on the cluster and will run
        (again) added: submitit counts a requeued-and-held, suspended or configuring job as
        finished, and the sweep then reported it while SLURM went on with it."""
        return super().is_done(job_id, mode) and \
            (self.get_state(job_id, mode="cache").upper().split() or [""])[0] \
            not in STILL_ON_CLUSTER

    def update(self) -> None:
        # submitit's InfoWatcher.update with the poll below; its bookkeeping goes through
        # the adapter (the watcher's state is private to submitit).
        ids = sorted({job.split("_")[0] for job in submitit_adapter.unfinished_jobs(self)})
        if not ids:
            return
        submitit_adapter.count_poll(self)
        polled = None if self.use_squeue else self._from_sacct(ids)
        if polled is None and self.use_squeue:
            polled = self._from_squeue(ids)
        info, output = polled or (None, None)
        submitit_adapter.record_poll(self, info, output)

    def _from_sacct(self, ids: list[str]) -> tuple[dict[str, dict[str, str]], str] | None:
        """(job states, sacct's output), or None when sacct failed (then squeue from now)."""
        command = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
        for job in ids:
            command += ["-j", job]
        out = _run_quietly(command)
        if out is not None and out.returncode == 0:
            return self.read_info(out.stdout), out.stdout
        why = _first_line(out.stderr if out is not None else "") or \
            ("not found" if out is None else f"exit {out.returncode}")
        log.warning("no Slurm accounting here (sacct: %s); job states come from squeue", why)
        self.use_squeue = True
        return None

    def _from_squeue(self, ids: list[str]) -> tuple[dict[str, dict[str, str]], str] | None:
        """(job states, squeue's output), or None when squeue could not answer."""
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
        info = self.read_info("JobID|State|NodeList\n" + listed)
        for job in submitit_adapter.unfinished_jobs(self):
            if job not in info:
                known = self.get_info(job, mode="cache")  # its last state, no new poll
                if job.split("_")[0] not in {key.split("_")[0] for key in info}:
                    info[job] = {**known, "JobID": job, "State": ENDED}
        return info, listed


# squeue states of a job that will still run (again): queued, running, or being requeued.
QUEUED = frozenset({"PENDING", "RUNNING", "REQUEUED", "COMPLETING", "CONFIGURING"}) | \
    STILL_ON_CLUSTER


def still_queued(job_id: str, checks: int = 4, interval_s: float = 2.0) -> bool:
    """Whether SLURM still lists ``job_id`` (``123_4`` for an array task) as queued, running or
    being requeued, asked ``checks`` times ``interval_s`` apart: a job in the middle of a requeue
    (``scontrol requeue``, submitit's own after SIGUSR2) can look ended for a moment, then is
    PENDING again with the same id."""
    for attempt in range(checks):
        out = _run_quietly(["squeue", "--noheader", "--array", "--states=all", "--format=%T",
                            f"--jobs={job_id}"])
        states = {line.strip().upper() for line in out.stdout.splitlines()} \
            if out is not None and out.returncode == 0 else set()
        if states & QUEUED:
            return True
        if attempt + 1 < checks:
            time.sleep(interval_s)
    return False


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
        SlurmJob.watcher = QueueStateWatcher(
            delay_s=submitit_adapter.watcher_delay_s(SlurmJob.watcher))
    return SlurmJob.watcher
