"""What a cluster user sets on hydra.launcher reaches the sbatch script; sbatch's refusals are
one line; a two-node job's ranks meet at one address and get distinct global ranks."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from slurm_cluster import slurm_cluster  # noqa: F401  (the session fixture)

from socio_re.launch import slurm
from socio_re.launch.slurm import (
    SubmissionError,
    compose_sweep,
    compose_train,
    render_sbatch,
    sbatch_error_line,
    submission_errors,
)

# --- the script ------------------------------------------------------------------------------

CLUSTER_KEYS = {"partition": "gpu-long", "account": "proj42", "qos": "high",
                "constraint": "h100&ib"}


@pytest.mark.parametrize("preset", ["slurm", "slurm_h100"])
def test_partition_account_qos_constraint_reach_the_script(preset):
    overrides = [f"hydra/launcher={preset}"]
    script = render_sbatch(compose_train(
        overrides + [f"hydra.launcher.{k}='{v}'" for k, v in CLUSTER_KEYS.items()]))
    for key, value in CLUSTER_KEYS.items():
        assert f"#SBATCH --{key}={shlex.quote(value)}\n" in script, key  # quoted: h100&ib
    # null leaves the flag out: the cluster's default applies.
    unset = render_sbatch(compose_train(
        overrides + [f"hydra.launcher.{k}=null" for k in CLUSTER_KEYS]))
    for key in CLUSTER_KEYS:
        assert f"--{key}=" not in unset, key


def test_a_sweep_is_one_array_at_most_max_parallel_at_once():
    cfg, jobs = compose_sweep(["seed=1,2,3,4,5", "sweep.max_parallel=2"])
    assert jobs == 5
    script = render_sbatch(cfg, jobs=jobs)
    assert "#SBATCH --array=0-4%2\n" in script
    # The array's log paths, and the sweep directory named after the whole sweep.
    assert "/.submitit/%A_%a/%A_%a_0_log.err" in script and "/seed=1,2,3,4,5/" in script
    # Without sweep.max_parallel: hydra.launcher.array_parallelism (256), capped by the size.
    cfg, jobs = compose_sweep(["seed=1,2,3", "trainer.learning_rate=1e-5,2e-5"])
    assert jobs == 6 and "#SBATCH --array=0-5%6\n" in render_sbatch(cfg, jobs=jobs)
    cfg, jobs = compose_sweep(["seed=1,2,3", "hydra.launcher.array_parallelism=1"])
    assert "#SBATCH --array=0-2%1\n" in render_sbatch(cfg, jobs=jobs)
    # One point: a plain job.
    cfg, jobs = compose_sweep(["seed=1"])
    assert jobs == 1 and "--array" not in render_sbatch(cfg, jobs=jobs)


def test_script_command_renders_the_array(capsys):
    from socio_re.cli.slurm_script import main

    main(["seed=1,2,3,4,5", "sweep.max_parallel=3", "hydra.launcher.partition=gpu"])
    out = capsys.readouterr().out
    assert "#SBATCH --array=0-4%3\n" in out and "#SBATCH --partition=gpu\n" in out


# --- sbatch's refusals -----------------------------------------------------------------------


def refusal(stderr: str) -> Exception:
    """What submitit raises when sbatch exits non-zero (core/utils.py CommandFunction)."""
    from submitit.core.utils import FailedJobError

    cause = subprocess.CalledProcessError(1, ["sbatch", "/x/.submission_file_1.sh"],
                                          output="", stderr=stderr)
    try:
        raise FailedJobError(stderr) from cause
    except FailedJobError as exc:
        return exc


@pytest.mark.parametrize(("stderr", "reason", "fix"), [
    ("sbatch: error: invalid partition specified: nosuch\n"
     "sbatch: error: Batch job submission failed: Invalid partition name specified",
     "invalid partition specified: nosuch (Invalid partition name specified)",
     "hydra.launcher.partition"),
    ("sbatch: error: Memory specification can not be satisfied\n"
     "sbatch: error: Batch job submission failed: Requested node configuration is not available",
     "Memory specification can not be satisfied", "hydra.launcher.mem_gb"),
    ("sbatch: error: Batch job submission failed: Requested node configuration is not available",
     "Requested node configuration is not available", "cpus_per_task"),
    ("sbatch: error: Batch job submission failed: Invalid account or account/partition "
     "combination specified", "Invalid account", "hydra.launcher.account"),
    ("sbatch: error: Batch job submission failed: Invalid qos specification", "Invalid qos",
     "hydra.launcher.qos"),
    ("sbatch: error: Batch job submission failed: Invalid feature specification",
     "Invalid feature specification", "hydra.launcher.constraint"),
    ("sbatch: error: Invalid generic resource (gres) specification", "gres",
     "hydra.launcher.gpus_per_node"),
    ("sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: "
     "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)",
     "QOSMaxSubmitJobPerUserLimit", "split the sweep"),
    ("sbatch: error: Batch job submission failed: Invalid job array specification",
     "Invalid job array specification", "MaxArraySize"),
    ("sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or "
     "exceeds some limit)", "Requested time limit is invalid", "hydra.launcher.timeout_min"),
    ("sbatch: error: something new", "something new", "slurm_script"),
])
def test_sbatch_refusal_is_one_line_with_the_fix(monkeypatch, stderr, reason, fix):
    monkeypatch.setattr(slurm, "_partitions", lambda: " (here: debug*)")
    line = sbatch_error_line(refusal(stderr), jobs=2)
    assert line is not None and "\n" not in line
    assert line.startswith("sbatch refused the sweep's 2 jobs, nothing was submitted: ")
    assert reason in line and fix in line
    assert "sbatch: error" not in line and "Batch job submission failed" not in line


def test_submission_errors_turns_the_refusal_into_a_user_error(monkeypatch, capsys):
    monkeypatch.setattr(slurm, "_partitions", lambda: "")
    stderr = "sbatch: error: invalid partition specified: nosuch"
    with pytest.raises(SubmissionError, match="invalid partition specified: nosuch") as exc, \
            submission_errors():
        print(stderr, file=sys.stderr)  # submitit prints sbatch's stderr before raising
        raise refusal(stderr)
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
    assert capsys.readouterr().err == ""  # the raw copy is kept off the terminal
    # No sbatch: a one-line hint too.
    with pytest.raises(SubmissionError, match="sbatch not found"), submission_errors():
        raise FileNotFoundError(2, "No such file or directory", "sbatch")
    # Anything else is not ours to reword; stderr written meanwhile still comes out.
    with pytest.raises(ValueError, match="a bug"), submission_errors():
        print("progress", file=sys.stderr)
        raise ValueError("a bug")
    with submission_errors():
        print("warning: something", file=sys.stderr)
    assert capsys.readouterr().err == "progress\nwarning: something\n"


@pytest.mark.slow
def test_real_sbatch_refusals_on_the_local_cluster(slurm_cluster, monkeypatch,  # noqa: F811
                                                   tmp_path):
    """Real sbatch, through submitit's executor: a wrong partition at submission, and
    --test-only catching a job that sbatch would queue but no node can run."""
    from submitit.slurm.slurm import SlurmExecutor

    from socio_re.launch.slurm import check_submittable

    monkeypatch.setenv("SLURM_CONF", slurm_cluster["env"]["SLURM_CONF"])

    def executor(**params):
        ex = SlurmExecutor(tmp_path / "%j")
        ex.update_parameters(**{"time": 5, "cpus_per_task": 1, "mem": "1GB", **params})
        return ex

    with pytest.raises(SubmissionError) as exc, submission_errors(jobs=2):
        executor(partition="nosuch").map_array(print, [1, 2])
    line = str(exc.value)
    assert "invalid partition specified: nosuch" in line and "debug*" in line, line
    with pytest.raises(SubmissionError, match="Requested node configuration"):
        check_submittable(executor(cpus_per_task=999), 2, 1)
    with pytest.raises(SubmissionError, match="invalid partition"):
        check_submittable(executor(partition="nosuch"), 1)
    check_submittable(executor(), 3, 2)  # a job that fits: no error, nothing submitted
    queue = subprocess.run(["squeue", "--noheader"], capture_output=True, text=True)
    assert queue.stdout.strip() == ""


# --- two-node rendezvous ---------------------------------------------------------------------


def node_env(node: int) -> dict[str, str]:
    """SLURM's variables in the one task of node ``node`` of a 2-node, 4-GPU-per-node job
    (sbatch --nodes=2 --ntasks-per-node=1 --gpus-per-node=4), as srun sets them."""
    return {"SLURM_JOB_ID": "8812345", "SLURM_JOBID": "8812345",
            "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_NODELIST": "gpu[07-08]",
            "SLURM_NNODES": "2", "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": str(node),
            "SLURM_PROCID": str(node), "SLURM_LOCALID": "0", "SLURM_NTASKS": "2",
            "SLURM_NTASKS_PER_NODE": "1", "SLURM_TASKS_PER_NODE": "1(x2)",
            "SLURM_GPUS_ON_NODE": "4", "SLURM_GPUS_PER_NODE": "4",
            "SLURMD_NODENAME": f"gpu0{7 + node}", "SLURM_JOB_NAME": "train"}


def test_two_nodes_meet_at_one_address_with_distinct_ranks(monkeypatch, tmp_path):
    """Each node's task runs spawn.launch, which starts torch's elastic agent with the
    rendezvous it derives from SLURM_*; the agent gives local rank l on node n global rank
    n * nproc_per_node + l (equal processes per node)."""
    import torch.distributed.launcher.api as api

    from socio_re.launch import spawn

    configs = []

    def fake_elastic_launch(config, entrypoint):
        configs.append(config)
        return lambda *args: None

    monkeypatch.setattr(api, "elastic_launch", fake_elastic_launch)
    monkeypatch.setattr(spawn, "check_port_free", lambda port: None)  # a port on gpu07
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for node in (0, 1):
        for key, value in node_env(node).items():
            monkeypatch.setenv(key, value)
        assert spawn.rendezvous() == (2, node, "gpu07", 20000 + 8812345 % 20000)
        spawn.launch(tmp_path, num_processes=4, devices=None)

    port = 20000 + 8812345 % 20000
    assert [c.rdzv_endpoint for c in configs] == [f"gpu07:{port}"] * 2
    assert [(c.min_nodes, c.max_nodes, c.nproc_per_node) for c in configs] == [(2, 2, 4)] * 2
    assert [c.rdzv_configs["rank"] for c in configs] == [0, 1]
    assert len({c.run_id for c in configs}) == 1  # same run id: one rendezvous
    ranks = [c.rdzv_configs["rank"] * c.nproc_per_node + local
             for c in configs for local in range(c.nproc_per_node)]
    assert sorted(ranks) == list(range(8)) and len(set(ranks)) == 8
    # torch's c10d rendezvous orders the nodes by host name: gpu07 first, as SLURM_NODEID.
    assert sorted(slurm.expand_nodelist("gpu[07-08]")) == slurm.expand_nodelist("gpu[07-08]")
