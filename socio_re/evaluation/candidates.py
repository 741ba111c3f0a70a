"""Read the model's whole answer distribution instead of sampling one answer.

For a row whose scale is lo..hi, every candidate answer ``str(c) + EOS`` is scored as a
continuation of the prompt: the prompt runs once (its KV cache is then repeated for each
candidate) and all candidates of a batch of rows run in one more forward pass. Normalised over
the candidates, the scores are the participant's predicted answer distribution. The paper's
protocol (temperature, top_p, one draw) becomes a seeded draw from that distribution; the
expected value and the mode come free. For single-token answers the draw has exactly the
distribution token-level sampling has; for multi-token answers temperature and top_p act on
whole answers rather than per token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_CANDIDATES = 201  # wider scales (dollar amounts) are left to generation


def candidate_values(scale: tuple[int, int] | None) -> list[int] | None:
    if scale is None:
        return None
    lo, hi = scale
    if hi < lo or hi - lo + 1 > MAX_CANDIDATES:
        return None
    return list(range(lo, hi + 1))


def score_candidates(model, tokenizer, prompts: Sequence[list[int]],
                     candidates: Sequence[list[int] | None], *, max_sequences: int = 512,
                     desc: str = "scoring candidates") -> list[np.ndarray | None]:
    """Per row, the normalised probability of each candidate answer (None where the row has
    no candidates). Rows sharing a candidate set are batched together."""
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    out: list[np.ndarray | None] = [None] * len(prompts)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, cands in enumerate(candidates):
        if cands:
            groups.setdefault(tuple(cands), []).append(i)
    was_training = model.training
    model.eval()
    jobs = []
    for cands, rows in groups.items():
        per_batch = max(1, max_sequences // len(cands))
        rows = sorted(rows, key=lambda i: len(prompts[i]))
        jobs += [(cands, rows[k:k + per_batch]) for k in range(0, len(rows), per_batch)]
    with torch.inference_mode():
        for cands, rows in tqdm(jobs, desc=desc, unit="batch", leave=False):
            logp = _score_batch(model, tokenizer, [prompts[i] for i in rows], cands, device)
            for i, lp in zip(rows, logp, strict=True):
                p = np.exp(lp - lp.max())
                out[i] = p / p.sum()
    if was_training:
        model.train()
    return out


def _score_batch(model, tokenizer, prompts: list[list[int]], cands: tuple[int, ...],
                 device) -> np.ndarray:
    """log P(str(c) + EOS | prompt) for every row × candidate (rows × candidates)."""
    import torch

    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    rows, k = len(prompts), len(cands)
    width = max(len(p) for p in prompts)
    ids = torch.full((rows, width), pad, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for r, p in enumerate(prompts):  # left padding: every prompt ends at the same column
        ids[r, width - len(p):] = torch.as_tensor(p)
        mask[r, width - len(p):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    first = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                  position_ids=positions.to(device), use_cache=True)
    cache = first.past_key_values
    cache.batch_repeat_interleave(k)
    head = torch.log_softmax(first.logits[:, -1].float(), -1).repeat_interleave(k, 0)

    answers = [[*tokenizer(str(c), add_special_tokens=False)["input_ids"], eos] for c in cands]
    length = max(len(a) for a in answers)
    cand_ids = torch.full((k, length), pad, dtype=torch.long)
    cand_mask = torch.zeros((k, length), dtype=torch.long)
    for j, a in enumerate(answers):
        cand_ids[j, : len(a)] = torch.as_tensor(a)
        cand_mask[j, : len(a)] = 1
    cand_ids, cand_mask = cand_ids.repeat(rows, 1), cand_mask.repeat(rows, 1)
    full_mask = torch.cat([mask.repeat_interleave(k, 0), cand_mask], dim=1)
    start = mask.sum(-1).repeat_interleave(k, 0)[:, None]
    cand_pos = start + torch.arange(length)[None, :]
    logits = model(input_ids=cand_ids.to(device), attention_mask=full_mask.to(device),
                   position_ids=cand_pos.to(device), past_key_values=cache,
                   use_cache=False).logits.float()
    steps = torch.cat([head[:, None], torch.log_softmax(logits[:, :-1], -1)], dim=1)
    token_lp = steps.gather(-1, cand_ids.to(device)[..., None])[..., 0] * cand_mask.to(device)
    return token_lp.sum(-1).view(rows, k).cpu().numpy()


def protocol_distribution(probs: np.ndarray, *, temperature: float,
                          top_p: float) -> np.ndarray:
    """The distribution the paper's sampling protocol draws from, over whole answers:
    ``probs`` sharpened by ``temperature``, then cut to the smallest top set reaching ``top_p``."""
    logits = np.log(np.clip(probs, 1e-300, None)) / temperature
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    keep = np.cumsum(p[order]) - p[order] < top_p  # the smallest set reaching top_p
    p_top = np.zeros_like(p)
    p_top[order[keep]] = p[order[keep]]
    return p_top / p_top.sum()


def draw(probs: np.ndarray, values: Sequence[int], *, temperature: float, top_p: float,
         rng: np.random.Generator) -> int:
    """One answer under the paper's sampling protocol, applied to whole answers."""
    p = protocol_distribution(probs, temperature=temperature, top_p=top_p)
    return int(values[int(rng.choice(len(values), p=p))])
