"""GPU throughput of socrates SFT on real-shaped models: real tokens/s, MFU and peak memory of
random-weight Qwen2.5 and Llama-3.1 architectures (built from their configs on the GPU, nothing
downloaded), full fine-tuning and LoRA, bf16, with socio_re's batching (dynamic padding;
padding-free packing under flash attention or SDPA) against the seed guide's padding of every
example to 2048 tokens, the same rows and optimizer, in the same run.

    python benchmarks/bench_gpu.py                       # on a machine with a CUDA GPU
    python benchmarks/bench_gpu.py --smoke --out DIR     # tiny shapes on the CPU: the code path

Needs only torch, transformers and peft (what the lent GPU machines have), plus socio_re's
collators. Lengths follow the socrates prompts measured by bench_padding (mean ~280, max ~330
tokens with the tiny tokenizer; set --mean/--max for another tokenizer's).

MFU counts real tokens only: model FLOPs per token 6·N (full) or 4·N (LoRA: no weight
gradients for the frozen matrices), N = non-embedding parameters, plus the causal attention
term 6·layers·hidden·seq (full; 4·... for LoRA), over the GPU's dense bf16 peak (--peak-tflops,
default 989 for H100/H200 SXM).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# name: (family, hidden, layers, heads, kv heads, intermediate, vocab, tied embeddings)
SHAPES = {
    "qwen2.5-0.5b": ("qwen2", 896, 24, 14, 2, 4864, 151936, True),
    "qwen2.5-1.5b": ("qwen2", 1536, 28, 12, 2, 8960, 151936, True),
    "qwen2.5-7b": ("qwen2", 3584, 28, 28, 4, 18944, 152064, False),
    "llama-3.1-8b": ("llama", 4096, 32, 32, 8, 14336, 128256, False),
    "smoke": ("qwen2", 64, 2, 4, 2, 128, 512, True),
}
# (model, finetune): full fine-tuning where AdamW's fp32 states fit one GPU next to the
# activations, LoRA everywhere.
SEED = "seed padding"
RUNS = [("qwen2.5-0.5b", "full"), ("qwen2.5-1.5b", "full"), ("qwen2.5-1.5b", "lora"),
        ("qwen2.5-7b", "lora"), ("llama-3.1-8b", "lora")]


def model_config(name: str, attn: str):
    from transformers import LlamaConfig, Qwen2Config

    family, hidden, layers, heads, kv, inter, vocab, tied = SHAPES[name]
    cls = Qwen2Config if family == "qwen2" else LlamaConfig
    extra = {"rope_theta": 1_000_000.0} if family == "qwen2" else {"rope_theta": 500_000.0}
    return cls(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
               num_key_value_heads=kv, intermediate_size=inter, vocab_size=vocab,
               tie_word_embeddings=tied, max_position_embeddings=4096, pad_token_id=0,
               attn_implementation=attn, **extra)


def build(name: str, finetune: str, attn: str, device: str, dtype):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(model_config(name, attn), dtype=dtype)
    model.config.use_cache = False
    if finetune == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                            "down_proj"]))
    model.gradient_checkpointing_enable()  # the seed's setting; also what lets 2048 x 8 fit
    if finetune == "lora":
        model.enable_input_require_grads()
    return model.train()


def rows(n: int, mean: float, top: int, vocab: int, seed: int = 0) -> list[dict]:
    """Token rows with socrates-like lengths: a prompt, then a short answer + EOS trained on."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = max(32, min(top, int(rng.gauss(mean, mean * 0.09))))
        ids = [rng.randrange(1, vocab) for _ in range(length)]
        labels = [-100] * (length - 3) + ids[-3:]
        out.append({"input_ids": ids, "labels": labels})
    return out


def flops_per_token(model, finetune: str, seq: float) -> float:
    cfg = model.config if not hasattr(model, "peft_config") else model.base_model.model.config
    embed = cfg.vocab_size * cfg.hidden_size * (1 if cfg.tie_word_embeddings else 2)
    base = model if not hasattr(model, "peft_config") else model.base_model.model
    n = sum(p.numel() for p in base.parameters()) - embed
    factor = 6 if finetune == "full" else 4
    return factor * n + factor * cfg.num_hidden_layers * cfg.hidden_size * seq


def time_steps(model, batches: list, collate, device: str, warmup: int) -> tuple[float, float]:
    """(seconds for the timed steps, peak GiB allocated)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-5, fused=device == "cuda")
    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = 0.0
    for i, features in enumerate(batches):
        if i == warmup:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
        batch = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in collate(features).items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=cuda):
            loss = model(**batch).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    del optim
    return seconds, peak


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU (code path)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--fixed", type=int, default=2048)
    p.add_argument("--mean", type=float, default=280)
    p.add_argument("--max", type=int, default=330)
    p.add_argument("--peak-tflops", type=float, default=989.0)
    p.add_argument("--only", help="comma-separated model names of SHAPES")
    p.add_argument("--out", help="results directory (default benchmarks/results)")
    args = p.parse_args()
    if args.smoke:  # seconds on the CPU, every branch taken once
        args.steps, args.warmup, args.batch, args.fixed, args.mean, args.max = 1, 1, 4, 256, 60, 80

    import torch

    from socio_re.training.collate import CausalLMCollator
    from socio_re.training.packing import PackedCausalLMCollator

    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA GPU here; run it on a GPU machine, or --smoke on the CPU")
    dtype = torch.float32 if args.smoke else torch.bfloat16
    precision = "fp32" if args.smoke else "bf16"
    try:
        import flash_attn  # noqa: F401

        packed_attn = "flash_attention_2"
    except ImportError:
        packed_attn = "sdpa"
    runs = [("smoke", "full"), ("smoke", "lora")] if args.smoke else RUNS
    if args.only:
        runs = [r for r in runs if r[0] in args.only.split(",")]
    dynamic = CausalLMCollator(pad_token_id=0)
    packed = PackedCausalLMCollator()

    def fixed(features):
        from common import pad_to

        return pad_to(dynamic(features), args.fixed,
                      {"input_ids": 0, "labels": -100, "attention_mask": 0})

    base = f"pad to {args.fixed} (seed)"
    results, records = [], []
    n_batches = args.warmup + args.steps
    for name, finetune in runs:
        vocab = SHAPES[name][6]
        data = rows(args.batch * n_batches, args.mean, args.max, vocab)
        batches = [data[i * args.batch:(i + 1) * args.batch] for i in range(n_batches)]
        real = sum(len(r["input_ids"]) for b in batches[args.warmup:] for r in b)
        seq = sum(len(r["input_ids"]) for r in data) / len(data)
        measured = {}
        for mode, collate, attn in ((SEED, fixed, "sdpa"),
                                    ("dynamic padding", dynamic, "sdpa"),
                                    (f"packed ({packed_attn})", packed, packed_attn)):
            model = build(name, finetune, attn, device, dtype)
            try:
                seconds, peak = time_steps(model, batches, collate, device, args.warmup)
            except torch.OutOfMemoryError:
                seconds, peak = float("nan"), float("nan")
            fpt = flops_per_token(model, finetune, seq)
            del model
            if device == "cuda":
                torch.cuda.empty_cache()
            tps = real / seconds
            measured[mode] = {"tokens_s": tps, "peak_gib": peak,
                              "mfu": tps * fpt / (args.peak_tflops * 1e12)}
            print(f"bench_gpu: {name} {finetune} {mode}: {tps:,.0f} real tokens/s, "
                  f"MFU {measured[mode]['mfu']:.1%}, peak {peak:.1f} GiB", flush=True)
        results.append({"model": name, "finetune": finetune, **measured})
        seed = measured[SEED]
        for mode, m in measured.items():
            if mode == SEED:
                continue
            records += [
                _row(f"{name} {finetune}, {precision}, batch {args.batch}, {mode}", m["tokens_s"],
                     "real tokens/s", base, seed["tokens_s"]),
                _row(f"{name} {finetune}, {mode}: MFU on real tokens", m["mfu"], "MFU",
                     base, seed["mfu"]),
            ]
            if device == "cuda":
                records.append(_row(f"{name} {finetune}, {mode}: peak memory", m["peak_gib"],
                                    "GiB", base, seed["peak_gib"],
                                    higher_is_better=False))
    from common import record

    name = "gpu_smoke" if args.smoke else "gpu"
    path = record(name, records, notes=(
        f"Random-weight models from the architecture configs, {args.warmup} warm-up and "
        f"{args.steps} timed AdamW steps each, gradient checkpointing, LoRA r=16 on every "
        f"linear layer; rows of mean {args.mean:.0f} / max {args.max} tokens; MFU over "
        f"{args.peak_tflops:.0f} TFLOP/s dense bf16. The baseline runs the same rows padded to "
        f"{args.fixed} with SDPA; a plain TRL SFTTrainer script is not run (TRL is not on the "
        f"GPU machine)."), results_dir=Path(args.out) if args.out else None)
    print(json.dumps({"wrote": str(path)}))


def _row(what, value, unit, baseline, baseline_value, higher_is_better=True):
    from common import row

    ok = value == value and baseline_value == baseline_value  # NaN: out of memory
    return row(what, value if ok else float("nan"), unit, baseline,
               baseline_value if ok else None, higher_is_better=higher_is_better)


if __name__ == "__main__":
    main()
