"""``python -m socio_re.cli.memory [overrides...] [--gpu-gb 80] [--gpus 8] [--seq N] [--batch N]``

GPU memory per device for every strategy, for the model, finetune method, trainer and task that
``python train.py <overrides>`` would use; nothing is downloaded or loaded. Examples::

    python -m socio_re.cli.memory model=qwen2.5-14b-instruct strategy=zero3
    python -m socio_re.cli.memory model=qwen2.5-14b-instruct finetune=lora --gpus 1
    python -m socio_re.cli.memory experiment=socrates_seed --gpu-gb 141
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.config.paths import CONF_DIR
from socio_re.errors import ConfigError
from socio_re.launch import memory as mem

DEFAULT_GPUS = 8


def trains_causal_lm(task: str) -> bool:
    """A causal-LM loss over the vocabulary (``TaskSpec.model_kind``: logits dominate the
    activations); other tasks put a small classification head on the backbone instead."""
    from socio_re.config.tasks import get_task

    return get_task(task).model_kind == "causal_lm"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m socio_re.cli.memory",
        description=__doc__.split("\n\n")[1].removesuffix(" Examples::"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:" + __doc__.split("::")[1])
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides as for train.py (model=..., strategy=..., "
                             "finetune=..., trainer.*=..., task=...)")
    parser.add_argument("--gpu-gb", type=float, default=80.0, help="memory per GPU (default 80)")
    parser.add_argument("--gpus", type=int, default=None,
                        help="GPUs for the multi-GPU strategies (default: strategy."
                             f"num_processes when above 1, else {DEFAULT_GPUS})")
    parser.add_argument("--seq", type=int, default=None,
                        help="tokens per sequence (default: task.max_length)")
    parser.add_argument("--batch", type=int, default=None,
                        help="sequences per GPU (default: trainer.per_device_train_batch_size)")
    args = parser.parse_args(argv)
    for flag in ("gpu_gb", "gpus", "seq", "batch"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise ConfigError(f"--{flag.replace('_', '-')}", value, "a positive number")
    return args


def compose(overrides: list[str]) -> DictConfig:
    """The config ``python train.py <overrides>`` would get, typed by the schema (defaults
    filled in) and resolved. Not ``validate_config``: its cross-field rules depend on this
    machine's GPUs and say nothing about memory."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf.errors import OmegaConfBaseException

    from socio_re.config.schema import RunConfig
    from socio_re.config.validate import translate_omegaconf_error

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=overrides)
    try:
        typed = OmegaConf.merge(OmegaConf.structured(RunConfig), cfg)
        OmegaConf.resolve(typed)
    except OmegaConfBaseException as exc:
        raise translate_omegaconf_error(exc) from None
    return typed


# --- the model's architecture ------------------------------------------------------------


def resolve_arch(model: DictConfig) -> mem.Arch:
    """Table of known hub models first, else a config.json found without the network."""
    name_or_path, kind = str(model.name_or_path), str(model.kind)
    local = Path(name_or_path).expanduser()
    if (local / "config.json").is_file():
        return mem.arch_from_config_dir(local, kind, name_or_path)
    if name_or_path in mem.KNOWN:
        return mem.KNOWN[name_or_path]
    if model.get("build"):
        from socio_re.models.tiny import ensure_built

        print(f"building the offline model {model.name} (once)...", file=sys.stderr)
        return mem.arch_from_config_dir(ensure_built(model.build, local), kind, name_or_path)
    if model.get("local_package"):
        import importlib

        path = importlib.import_module(model.local_package).get_model_path()
        return mem.arch_from_config_dir(path, kind, name_or_path)
    cached = _hub_cache_config(name_or_path, model.get("revision"))
    if cached:
        return mem.arch_from_config_dir(cached.parent, kind, name_or_path)
    raise mem.arch_unknown(name_or_path)


def _hub_cache_config(repo_id: str, revision: str | None) -> Path | None:
    """config.json of a hub model that is already in the local cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except ValueError:  # not a valid repo id
        return None
    return Path(found) if isinstance(found, str) else None


# --- the report --------------------------------------------------------------------------


@dataclass
class Report:
    arch: mem.Arch
    training: mem.Training
    workload: mem.Workload
    gpus: int
    gpu_gb: float
    checkpointing: bool
    chosen: str
    rows: list[mem.Estimate]
    deepspeed_note: str | None


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def default_gpus(strategy: DictConfig) -> int:
    n = strategy.get("num_processes")
    if isinstance(n, int) and n > 1:
        return n
    devices = strategy.get("devices")
    return len(devices) if devices and len(devices) > 1 else DEFAULT_GPUS


def build_report(cfg: DictConfig, gpu_gb: float = 80.0, gpus: int | None = None,
                 seq: int | None = None, batch: int | None = None) -> Report:
    arch = resolve_arch(cfg.model)
    lm_task = trains_causal_lm(cfg.task.name)
    if arch.kind == "decoder" and not lm_task:
        arch = arch.as_classifier()
    fp32 = cfg.trainer.precision == "fp32"
    targets = _plain(cfg.finetune.get("target_modules")) or _plain(cfg.model.lora_target_modules)
    rank = int(cfg.finetune.lora_r)
    training = mem.training_for(arch, str(cfg.finetune.method), rank, targets, fp32)
    adapters = replace(mem.training_for(arch, "lora", rank, targets), fp32=fp32)
    workload = mem.Workload(
        seq=seq or int(OmegaConf.select(cfg, "task.max_length", default=2048)),
        batch=batch or int(cfg.trainer.per_device_train_batch_size),
        lm_logits=arch.kind == "decoder" and lm_task,
        eager_attention=cfg.model.get("attn_implementation") == "eager", fp32=fp32)
    n = gpus or default_gpus(cfg.strategy)
    ds = mem.deepspeed_estimators()
    rows = mem.estimate(arch, training, workload, n, ds, adapters)
    return Report(arch, training, workload, n, gpu_gb, bool(cfg.trainer.gradient_checkpointing),
                  mem.strategy_row_name(_plain(cfg.strategy)), rows,
                  ds if isinstance(ds, str) else None)


def _gb(value: float | None) -> str:
    return "—" if value is None else mem.format_gb(value)


def _count(n: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:,.{3 if suffix == 'B' else 1}f}{suffix}"
    return f"{n:,.0f}"


def _header(r: Report) -> list[str]:
    a, t, w = r.arch, r.training, r.workload
    what = ("full fine-tune" if t.method == "full"
            else f"LoRA ({_count(t.trainable)} adapter parameters on a frozen base)")
    return [
        f"[bold]{a.name}[/] ({a.source}): {_count(a.params)} parameters, {a.layers} layers, "
        f"hidden {a.hidden:,}, {a.heads} heads, vocab {a.vocab:,}",
        f"{what} · seq {w.seq} × batch {w.batch} per GPU · "
        f"{'fp32' if w.fp32 else 'bf16 mixed precision'} · gradient checkpointing "
        f"{'on' if r.checkpointing else 'off'} · {r.gpus} × {r.gpu_gb:g} GB",
    ]


def _table(r: Report):
    from rich.table import Table

    table = Table(title=None, header_style="bold")
    for name in ("strategy", "GPUs", "weights", "grads", "optimizer", "activations",
                 "act. (ckpt)", "total", "total (ckpt)", "DeepSpeed est."):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    table.add_column(f"fits on N × {r.gpu_gb:g} GB?")
    for row in r.rows:
        mark = "*" if row.strategy == r.chosen else " "
        ds = "—" if row.deepspeed_gpu is None else _gb(row.deepspeed_gpu)
        table.add_row(f"{mark}{row.strategy}", str(row.devices), _gb(row.weights), _gb(row.grads),
                      _gb(row.optimizer), _gb(row.activations), _gb(row.activations_ckpt),
                      _gb(row.total), _gb(row.total_ckpt), ds,
                      mem.verdict(row, r.gpu_gb, r.checkpointing),
                      style="bold" if row.strategy == r.chosen else None)
    return table


def _footnotes(r: Report) -> list[str]:
    per_param = "4 + 4 + 8" if r.workload.fp32 else "2 + 2 + 12"
    notes = [
        f"* the configured strategy. GB per GPU (2^30 bytes); a GPU counts as "
        f"{mem.USABLE_FRACTION:.0%} of its memory; \"with ckpt\": fits only with "
        "trainer.gradient_checkpointing=true.",
        f"weights + grads + optimizer: {per_param} bytes per trained parameter "
        "(AdamW moments and master weights in fp32); LoRA adapters fp32 (4 + 4 + 8) on a frozen "
        "16-bit base; qlora: NF4 base (~0.52 B/param), other weights fp32 as "
        "prepare_model_for_kbit_training leaves them, always LoRA.",
        "activations: 34·s·b·h (+ 5·a·s²·b with eager attention) bytes per layer; checkpointed: "
        "2·s·b·h per layer + one layer recomputed" +
        ("; + s·b·vocab·10 bytes of logits at the loss." if r.workload.lm_logits else "."),
        "sharded strategies hold two layers plus the embeddings unsharded while computing; "
        "offload strategies keep weights, gradients and optimizer states in CPU memory.",
    ]
    if r.deepspeed_note:
        notes.append(r.deepspeed_note)
    else:
        notes.append("DeepSpeed est.: its estimate_zero2/zero3_model_states_mem_needs for a full "
                     "fine-tune (model states only, no activations; counts fp32 gradients too).")
    notes += list(r.training.notes)
    return notes


def print_report(r: Report) -> None:
    from rich.console import Console

    probe = Console()
    # Piped output gets 80 columns by default, too narrow for eleven columns.
    console = probe if probe.is_terminal else Console(width=160)
    for line in _header(r):
        console.print(line, highlight=False)
    console.print(_table(r))
    for line in _footnotes(r):
        console.print(line, style="dim", highlight=False)
    console.print(mem.recommend(r.rows, r.gpu_gb, r.gpus, r.checkpointing, r.training.method),
                  style="bold", highlight=False)


def run(argv: list[str]) -> Report:
    args = parse_args(argv)
    report = build_report(compose(args.overrides), args.gpu_gb, args.gpus, args.seq, args.batch)
    print_report(report)
    return report


def main(argv: list[str] | None = None) -> None:
    # Composition errors reach us as exceptions, so each becomes one line and exit code 2.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    run_reporting_user_errors(lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
