"""Batched generation of short answers with a causal LM (greedy or seeded sampling).

Decoding is owned by the caller's settings, never by the checkpoint: a hub model ships a
``generation_config`` of its own (Qwen2.5-Instruct: top_k=20, repetition_penalty=1.05, which
penalises the digits the prompt already contains), and transformers fills every field a passed
GenerationConfig leaves unset from it. :func:`decoding_config` sets every field that shapes the
continuation, and :func:`generate_answers` hides the model's own defaults for the call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def decoding_config(*, decoding: str, temperature: float, top_p: float, max_new_tokens: int,
                    pad_token_id: int | None, eos_token_id: int | None):
    """The whole generation setup as a ``transformers.GenerationConfig``.

    ``decoding="sample"``: temperature and top_p as given, and nothing else reshaping the
    distribution (top_k=0 is off, no repetition penalty, no n-gram ban, no typical/epsilon/eta
    cutoffs). Otherwise greedy: the sampling fields stay unset, transformers ignores them
    without sampling. Exactly ``max_new_tokens`` at most and no minimum, one sequence per
    prompt, no beams.
    """
    from transformers import GenerationConfig

    sample = decoding == "sample"
    sampling = dict(temperature=temperature, top_p=top_p, top_k=0) if sample else {}
    return GenerationConfig(
        do_sample=sample,
        **sampling,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        repetition_penalty=1.0,
        encoder_repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        length_penalty=1.0,
        num_beams=1,
        num_return_sequences=1,
        min_new_tokens=0,
        max_new_tokens=max_new_tokens,
        renormalize_logits=False,
        remove_invalid_values=False,
        guidance_scale=1.0,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
    )


@contextmanager
def _model_defaults_replaced(model, config) -> Iterator[None]:
    """For the duration, the model's own ``generation_config`` is ``config``.

    transformers fills the fields a passed GenerationConfig leaves None from the model's
    ``generation_config`` (min_p, suppress_tokens, sequence_bias, stop_strings... have no
    neutral value but None). With ``config`` standing in for the model's defaults, only
    transformers' global defaults fill the rest. A PEFT wrapper generates through its base
    model, whose attribute is the one read."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = base.generation_config
    base.generation_config = config
    try:
        yield
    finally:
        base.generation_config = saved


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
    requires. Sampling is seeded per batch, so one draw per row is reproducible. The decoding
    settings are these arguments alone (:func:`decoding_config`), whatever the model's
    ``generation_config`` says.
    """
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    pad = tokenizer.pad_token_id
    config = decoding_config(decoding=decoding, temperature=temperature, top_p=top_p,
                             max_new_tokens=max_new_tokens, pad_token_id=pad,
                             eos_token_id=tokenizer.eos_token_id)
    was_training = model.training
    model.eval()
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode(), _model_defaults_replaced(model, config):
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
                                 generation_config=config)
            texts = tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
            for i, text in zip(idx, texts, strict=True):
                out[i] = text
    if was_training:
        model.train()
    return out
