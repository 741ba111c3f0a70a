"""SLURM presets rendered to sbatch scripts, multi-node rendezvous from the SLURM environment,
submitit's executor on this machine, and the memory estimator (all CPU, offline, seconds)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import ROOT

from socio_re.errors import ConfigError, UserError
from socio_re.launch.slurm import (
    compose_train,
    expand_nodelist,
    render_sbatch,
    slurm_rendezvous_env,
)

QWEN14_PARAMS = 14.77e9


def sbatch(*overrides: str) -> str:
    return render_sbatch(compose_train(list(overrides)))


# --- sbatch ------------------------------------------------------------------------------


def test_h100_preset_renders_one_task_per_node_with_requeue():
    script = sbatch("hydra/launcher=slurm_h100")
    for line in ("#SBATCH --gpus-per-node=8", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --cpus-per-task=64", "#SBATCH --mem=480GB", "#SBATCH --time=1440",
                 "#SBATCH --partition=gpu", "#SBATCH --nodes=1", "#SBATCH --job-name=train",
                 "#SBATCH --signal=USR2@120", "#SBATCH --requeue",
                 "module load cuda/12.4", "source .venv/bin/activate", "export HF_HOME="):
        assert line in script, line
    assert "--account" not in script  # null = left out
    # The setup runs before the job; the job is submitit's runner on the pickled Hydra job.
    assert script.index("# setup") < script.index("srun ")
    assert "-m submitit.core._submit" in script
    assert "/.submitit/%j" in script


def test_overrides_change_the_script():
    script = sbatch("hydra/launcher=slurm_h100", "hydra.launcher.partition=debug",
                    "hydra.launcher.nodes=2", "hydra.launcher.gpus_per_node=4",
                    "hydra.launcher.timeout_min=30", "hydra.launcher.account=proj42",
                    "hydra.launcher.signal_delay_s=300", "hydra.launcher.mem_gb=100",
                    "hydra.launcher.setup=[echo hello]", "hydra.sweep.dir=/scratch/sweep")
    for line in ("#SBATCH --partition=debug", "#SBATCH --nodes=2", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --time=30", "#SBATCH --account=proj42", "#SBATCH --signal=USR2@300",
                 "#SBATCH --mem=100GB", "echo hello", "/scratch/sweep/.submitit/%j"):
        assert line in script, line
    assert "module load" not in script


def test_base_slurm_preset_is_the_default_of_the_script_command(capsys):
    from socio_re.cli.slurm_script import main

    main(["hydra.launcher.qos=high"])
    out = capsys.readouterr().out
    assert out.startswith("#!/bin/bash")
    assert "#SBATCH --gpus-per-node=1" in out and "#SBATCH --qos=high" in out
    assert "#SBATCH --ntasks-per-node=1" in out


@pytest.mark.parametrize(("overrides", "key"), [
    (["hydra.launcher.tasks_per_node=8"], "hydra.launcher.tasks_per_node"),
    (["hydra/launcher=local"], "hydra/launcher"),
])
def test_script_rejects_what_cannot_work(overrides, key, capsys):
    with pytest.raises(ConfigError, match=key):
        sbatch(*overrides)
    from socio_re.cli.slurm_script import main

    with pytest.raises(SystemExit) as exc:
        main(overrides)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err


# --- rendezvous --------------------------------------------------------------------------


@pytest.mark.parametrize(("nodelist", "hosts"), [
    ("gpu[01-03,07]", ["gpu01", "gpu02", "gpu03", "gpu07"]),
    ("node1,node2", ["node1", "node2"]),
    ("a[8-10],b1", ["a8", "a9", "a10", "b1"]),
    ("gpu[001-002],cpu[1,3]", ["gpu001", "gpu002", "cpu1", "cpu3"]),
    ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
    ("solo", ["solo"]),
])
def test_nodelist_expansion_matches_submitit(nodelist, hosts):
    from submitit.slurm.slurm import _parse_node_list

    assert expand_nodelist(nodelist) == hosts
    assert _parse_node_list(nodelist) == hosts


def slurm_env(nodelist: str, nnodes: int, node: int, job_id: str = "4242") -> dict[str, str]:
    return {"SLURM_JOB_NODELIST": nodelist, "SLURM_NNODES": str(nnodes),
            "SLURM_NODEID": str(node), "SLURM_JOB_ID": job_id}


def test_rendezvous_from_slurm_environment():
    env = slurm_rendezvous_env(slurm_env("gpu[01-03,07]", 4, 2, "123456"))
    assert env == {"nnodes": 4, "node_rank": 2, "master_addr": "gpu01",
                   "master_port": 20000 + 123456 % 20000}
    # Every node derives the same master and port.
    assert {slurm_rendezvous_env(slurm_env("node1,node2", 2, r))["master_addr"]
            for r in (0, 1)} == {"node1"}
    assert slurm_rendezvous_env(slurm_env("n[1-2]", 2, 0, "7"))["master_port"] == 20007
    # Older SLURM names.
    old = {"SLURM_NODELIST": "x[1-2]", "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1",
           "SLURM_JOBID": "99"}
    assert slurm_rendezvous_env(old)["node_rank"] == 1


@pytest.mark.parametrize(("env", "fragment"), [
    (slurm_env("gpu[01-03]", 2, 0), "names 3 hosts"),
    (slurm_env("gpu[01-02", 2, 0), "cannot parse"),
    (slurm_env("gpu[03-01]", 2, 0), "cannot parse"),
    (slurm_env("gpu[01-02]", 2, 5), "outside"),
    ({"SLURM_NNODES": "2"}, "SLURM_NODEID is not set"),
])
def test_rendezvous_errors_are_one_line(env, fragment):
    with pytest.raises(UserError, match=fragment) as exc:
        slurm_rendezvous_env(env)
    assert "\n" not in str(exc.value)


# --- submitit's executor path ------------------------------------------------------------


def test_submitit_local_executor_runs_a_job(tmp_path):
    import submitit

    executor = submitit.AutoExecutor(folder=tmp_path / "%j", cluster="local")
    executor.update_parameters(timeout_min=1, name="probe")
    # A function from this package, so the job also proves socio_re imports in a job process.
    job = executor.submit(slurm_rendezvous_env, slurm_env("h[1-2]", 2, 1, "5"))
    deadline = time.monotonic() + 600  # a hang guard only: loaded machines are slow
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.done(), job.stderr()
    assert job.result() == {"nnodes": 2, "node_rank": 1, "master_addr": "h1",
                            "master_port": 20005}
    assert job.paths.stdout.exists()


# --- memory ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen14():
    from socio_re.cli.memory import build_report, compose

    def report(*overrides: str, gpus: int = 8):
        cfg = compose(["model=qwen2.5-14b-instruct", *overrides])
        return build_report(cfg, gpu_gb=80, gpus=gpus, seq=2048, batch=8)

    return report


def rows(report) -> dict:
    return {r.strategy: r for r in report.rows}


def test_memory_full_finetune_qwen14(qwen14):
    from socio_re.launch import memory as mem

    r = qwen14("strategy=zero3")
    assert r.chosen == "zero3" and r.arch.params == pytest.approx(QWEN14_PARAMS, rel=0.01)
    by = rows(r)
    single, zero3 = by["single"], by["zero3"]
    for row in r.rows:
        assert row.activations > row.activations_ckpt > 0
        assert row.total > row.total_ckpt > 0 and row.weights > 0
        if "offload" not in row.strategy:
            assert row.grads > 0 and row.optimizer > 0
    assert single.weights == pytest.approx(2 * QWEN14_PARAMS, rel=0.05)
    assert single.optimizer == pytest.approx(12 * QWEN14_PARAMS, rel=0.05)
    # A shard of the weights plus the layers gathered for compute.
    assert single.weights / 8 < zero3.weights < single.weights / 3
    assert zero3.optimizer == single.optimizer / 8
    # 14.8B fully fine-tuned: no single 80 GB GPU; ZeRO-3 over 8 of them does (checkpointed).
    assert mem.verdict(single, 80, checkpointing=True).startswith("no")
    assert mem.fits(zero3, 80, checkpointing=True) == (True, True)
    assert mem.verdict(zero3, 80, checkpointing=False) == "with ckpt"
    # DeepSpeed's own estimator, called with the parameter counts, lands near ours.
    assert zero3.deepspeed_gpu == pytest.approx(zero3.weights + zero3.grads + zero3.optimizer,
                                                rel=0.2)
    assert by["zero2"].deepspeed_gpu > zero3.deepspeed_gpu > by["zero3_offload"].deepspeed_gpu
    assert by["zero3_offload"].cpu > 0 and by["ddp"].deepspeed_gpu is None


def test_memory_lora_and_qlora_need_less(qwen14):
    full, lora = rows(qwen14()), rows(qwen14("finetune=lora"))
    assert lora["single"].total < full["single"].total / 2
    assert lora["single"].optimizer < full["single"].optimizer / 100
    # QLoRA's 4-bit base is well under the bf16 weights, even with fp32 embeddings.
    assert full["qlora"].weights < full["single"].weights / 2
    assert full["qlora"].method == "lora"


def test_memory_command_verdicts():
    """The real command line, in a fresh process: fits with ZeRO-3, not on one GPU."""
    proc = subprocess.run(
        [sys.executable, "-m", "socio_re.cli.memory", "model=qwen2.5-14b-instruct",
         "strategy=zero3", "trainer.gradient_checkpointing=true", "--gpu-gb", "80",
         "--gpus", "8", "--seq", "2048", "--batch", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split("│")[1].strip(" *"): line for line in proc.stdout.splitlines()
             if line.startswith("│")}
    assert lines["zero3"].rstrip(" │").endswith("yes")
    assert "no: needs" in lines["single"]
    assert "recommendation: strategy=" in proc.stdout
    assert "WARNING" not in proc.stdout + proc.stderr  # DeepSpeed's accelerator probe is quiet


def test_memory_from_config_json(tmp_path, capsys):
    """model=tiny-causal pointed at a config.json: counted on an empty model, nothing loaded."""
    from transformers import Qwen2Config

    from socio_re.cli.memory import run

    Qwen2Config(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2,
                tie_word_embeddings=True).save_pretrained(tmp_path)
    report = run(["model=tiny-causal", f"model.name_or_path={tmp_path}", "finetune=lora",
                  "--gpus", "2"])
    arch = report.arch
    assert arch.source == "config.json" and (arch.hidden, arch.layers, arch.kv_heads) == (64, 2, 2)
    # q and o 64×64, k and v 64×32 (2 kv heads of 16), q/k/v biases, SwiGLU MLP, two norms.
    per_layer = 2 * 64 * 64 + 2 * 64 * 32 + (64 + 32 + 32) + 3 * 64 * 128 + 2 * 64
    assert arch.params == 1000 * 64 + 2 * per_layer + 64  # tied head, final norm
    assert all(r.total > 0 for r in report.rows)
    out = capsys.readouterr().out
    assert "config.json" in out and "LoRA" in out


def test_memory_unknown_model_is_one_line(capsys):
    from socio_re.cli.memory import main

    with pytest.raises(SystemExit) as exc:
        main(["model.name_or_path=nobody/nothing-7b", "model.build=null"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nobody/nothing-7b" in err
