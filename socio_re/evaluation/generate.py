"""Batched generation of short answers with a causal LM (greedy or seeded sampling)."""

from __future__ import annotations

from collections.abc import Sequence


def generate_answers(
    model,
    tokenizer,
    prompts: Sequence[list[int]],
    *,
    decoding: str = "greedy",
    temperature: float = 0.6,
    top_p: float = 0.9,
    max_new_tokens: int = 8,
    batch_size: int = 64,
    seed: int = 0,
    desc: str = "generating",
) -> list[str]:
    """Decode the continuation of each tokenized prompt; output order = input order.

    Prompts are batched by length (less padding) and left-padded, as decoder-only generation
    requires. Sampling is seeded per batch, so one draw per row is reproducible.
    """
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    pad = tokenizer.pad_token_id
    was_training = model.training
    model.eval()
    gen_kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=pad,
                      eos_token_id=tokenizer.eos_token_id)
    if decoding == "sample":
        gen_kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
    else:
        gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode():
        for b, idx in enumerate(tqdm(batches, desc=desc, unit="batch", leave=False)):
            width = max(len(prompts[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                p = prompts[i]
                ids[r, width - len(p):] = torch.as_tensor(p)
                mask[r, width - len(p):] = 1
            if decoding == "sample":
                torch.manual_seed(seed * 1_000_003 + b)
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 **gen_kwargs)
            texts = tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
            for i, text in zip(idx, texts, strict=True):
                out[i] = text
    if was_training:
        model.train()
    return out
