"""Read the model's whole answer distribution instead of sampling one answer.

For a row whose scale is lo..hi, every candidate answer ``str(c) + EOS`` is scored as a
continuation of the prompt. Rows whose prompts share a prefix (a participant's profile) are
grouped, and each group's prefix runs once into a KV cache. Then each row's rest of the prompt
runs followed by the candidates' tokens as a prefix tree, with an attention mask that shows
each tree node the prompt and its own ancestors only: every candidate's log-probability comes
out exactly as scoring each full sequence alone would give it (sdpa or eager attention).
Attention that takes no custom mask (flash_attention_2) falls back to running each prompt once,
repeating its KV cache per candidate and running all candidate sequences in one more pass.
Normalised over the candidates, the scores are the participant's predicted answer
distribution. The paper's protocol (temperature, top_p, one draw) becomes a seeded draw from
that distribution; the expected value and the mode come free. For single-token answers the draw
has exactly the distribution token-level sampling has; for multi-token answers temperature and
top_p act on whole answers rather than per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

MAX_CANDIDATES = 201  # wider scales (dollar amounts) are left to generation


def candidate_values(scale: tuple[int, int] | None) -> list[int] | None:
    """Every answer of a ``parse_scale`` range (an enumeration's codes included), or ``None``:
    an open-ended answer (no stated range, e.g. dollars) or a range too wide to enumerate.
    Rows without candidates are generated instead, also under ``decoding=score``."""
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
    tree = _tree_supported(model)
    jobs = []
    for cands, rows in groups.items():
        per_batch = max(1, max_sequences // len(cands))
        trie = _Trie([_answer_ids(tokenizer, c) for c in cands], tokenizer.eos_token_id)
        if tree:
            jobs += [(trie, b) for b in _tree_batches(prompts, rows, per_batch)]
        else:
            rows = sorted(rows, key=lambda i: len(prompts[i]))
            jobs += [(trie, [(0, rows[k:k + per_batch])])
                     for k in range(0, len(rows), per_batch)]
    with torch.inference_mode():
        for trie, batch in tqdm(jobs, desc=desc, unit="batch", leave=False):
            rows = [i for _, group in batch for i in group]
            if tree:
                logp = _score_tree(model, tokenizer, [
                    (prompts[group[0]][:shared], [prompts[i][shared:] for i in group])
                    for shared, group in batch], trie, device)
            else:
                logp = _score_repeat(model, tokenizer, [prompts[i] for i in rows], trie, device)
            for i, lp in zip(rows, logp, strict=True):
                p = np.exp(lp - lp.max())
                out[i] = p / p.sum()
    if was_training:
        model.train()
    return out


def _answer_ids(tokenizer, value: int) -> list[int]:
    return tokenizer(str(value), add_special_tokens=False)["input_ids"]


def _common_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for j in range(n):
        if a[j] != b[j]:
            return j
    return n


def _prefix_groups(prompts: Sequence[list[int]], rows: list[int],
                   max_rows: int) -> list[tuple[int, list[int]]]:
    """Rows in runs that share a prompt prefix, as (shared length, rows): the prefix then runs
    once per run instead of once per row. SocSci rows of one participant share the system
    prompt and the whole profile, most of the prompt. Rows are sorted by their tokens (sharers
    become neighbours) and cut into runs of at most ``max_rows`` that maximise the prompt
    tokens saved, (rows - 1) × shared length per run (dynamic programming over the cuts). A
    run's shared length leaves each row at least its last token, whose logits are read."""
    order = sorted(rows, key=lambda i: prompts[i])
    seqs = [prompts[i] for i in order]
    common = [_common_length(a, b) for a, b in pairwise(seqs)]
    saved, cut = [0] * (len(seqs) + 1), [0] * (len(seqs) + 1)
    for end in range(1, len(seqs) + 1):
        saved[end], cut[end] = saved[end - 1], end - 1  # seqs[end - 1] alone
        shared = len(seqs[end - 1]) - 1
        for start in range(end - 2, max(-1, end - 1 - max_rows), -1):
            shared = min(shared, common[start], len(seqs[start]) - 1)
            if shared <= 0:
                break
            if saved[start] + (end - start - 1) * shared > saved[end]:
                saved[end], cut[end] = saved[start] + (end - start - 1) * shared, start
    runs, end = [], len(seqs)
    while end > 0:
        start = cut[end]
        runs.append((min([len(s) - 1 for s in seqs[start:end]]
                         + [common[j] for j in range(start, end - 1)]), order[start:end]))
        end = start
    return runs[::-1]


# Rows per prefix run at most: bounds the planning work (rows × this), and a run longer than
# this saves little more (its prefix runs once per this many rows anyway).
MAX_RUN = 64


def _tree_batches(prompts: Sequence[list[int]], rows: list[int],
                  per_batch: int) -> list[list[tuple[int, list[int]]]]:
    """Consecutive prefix runs packed into batches of at most ``per_batch`` rows."""
    batches: list[list[tuple[int, list[int]]]] = [[]]
    count = 0
    for shared, run in _prefix_groups(prompts, rows, min(per_batch, MAX_RUN)):
        if count + len(run) > per_batch:
            batches.append([])
            count = 0
        batches[-1].append((shared, run))
        count += len(run)
    return batches


class _Trie:
    """The candidates' answer tokens as a prefix tree: one node per distinct token prefix, so
    "1", "10" and "100" (digits split into tokens) are 3 nodes, not 1 + 2 + 3 tokens.

    ``tokens[j]`` and ``depth[j]`` (0 at a root) describe node j; parents come before their
    children. ``ancestors[j, i]``: node i is node j or one of its ancestors, i.e. what node j
    may attend to besides the prompt. Candidate c's log-probability is the sum, over
    ``steps[c, s]`` where ``valid[c, s]``, of ``log P(token[c, s])`` read from the logits at
    ``steps[c, s]``: 0 is the prompt's last position, 1 + j is node j; the last step is EOS.
    """

    def __init__(self, answers: list[list[int]], eos: int) -> None:
        import torch

        self.answers = answers
        index: dict[tuple[int, ...], int] = {}
        tokens, parent, depth, paths = [], [], [], []
        for a in answers:
            path: list[int] = []
            for d in range(len(a)):
                node = index.setdefault(tuple(a[:d + 1]), len(tokens))
                if node == len(tokens):
                    tokens.append(a[d])
                    parent.append(path[-1] if path else -1)
                    depth.append(d)
                path.append(node)
            paths.append(path)
        n, length = len(tokens), max(len(a) for a in answers) + 1
        self.tokens = torch.tensor(tokens, dtype=torch.long)
        self.depth = torch.tensor(depth, dtype=torch.long)
        self.ancestors = torch.eye(n, dtype=torch.bool)
        for j, p in enumerate(parent):
            if p >= 0:
                self.ancestors[j] |= self.ancestors[p]
        self.steps = torch.zeros((len(answers), length), dtype=torch.long)
        self.token = torch.zeros((len(answers), length), dtype=torch.long)
        self.valid = torch.zeros((len(answers), length), dtype=torch.bool)
        for c, (a, path) in enumerate(zip(answers, paths, strict=True)):
            self.steps[c, : len(a) + 1] = torch.tensor([0] + [1 + j for j in path])
            self.token[c, : len(a) + 1] = torch.tensor([*a, eos])
            self.valid[c, : len(a) + 1] = True


# Attention implementations that take a custom 4D mask as given (transformers passes a 4D mask
# through untouched and both add a float one to the scores).
# flash_attention_2 (and kernels) only know padding masks: they keep the repeated-cache path.
_TREE_ATTENTION = ("sdpa", "eager")


def _tree_supported(model) -> bool:
    config = model.config
    layers = getattr(config, "layer_types", None) or ["full_attention"]
    # A custom mask replaces the model's own, so a sliding window would be silently ignored.
    return (getattr(config, "_attn_implementation", None) in _TREE_ATTENTION
            and all(t == "full_attention" for t in layers)
            and getattr(config, "sliding_window", None) is None)


def _left_pad(prompts: list[list[int]], pad: int):
    """Left padding: every prompt ends at the same column, so the last column is each row's
    last prompt token."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p):] = torch.as_tensor(p)
        mask[r, width - len(p):] = 1
    return ids, mask


def _score_tree(model, tokenizer, groups: list[tuple[list[int], list[list[int]]]],
                trie: _Trie, device) -> np.ndarray:
    """log P(str(c) + EOS | prompt) for every row × candidate, rows in the order of ``groups``:
    (shared prefix, each row's rest of the prompt). Two forward passes: the prefixes, once per
    group, into a KV cache; then each row's rest followed by the candidates' prefix tree, every
    tree node attending to its prompt and its own ancestors only, at position prompt length +
    depth. Every token sees exactly the context it has in its candidate's own sequence, so the
    logits equal scoring each sequence alone; no KV cache is copied per candidate and a token
    prefix several candidates share runs once."""
    import torch

    pad, n = tokenizer.pad_token_id, len(trie.tokens)
    dtype = model.get_input_embeddings().weight.dtype
    owner = torch.tensor([g for g, (_, rest) in enumerate(groups) for _ in rest], device=device)
    rows = len(owner)
    prefix_ids, prefix_mask = _left_pad([p for p, _ in groups], pad)
    prefix_ids, prefix_mask = prefix_ids.to(device), prefix_mask.to(device).bool()
    width = prefix_ids.shape[1]
    cache = None
    if width:
        positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        allowed = _causal(prefix_mask)
        cache = model(input_ids=prefix_ids, attention_mask=_bias(allowed, dtype),
                      position_ids=positions, use_cache=True,
                      **_keep(model, 1)).past_key_values
        cache.batch_select_indices(owner)  # each row gets its group's prefix
    prefix_mask, start = prefix_mask[owner], prefix_mask.sum(-1)[owner]

    rest_ids, rest_mask = _left_pad([r for _, rest in groups for r in rest], pad)
    rest_ids, rest_mask = rest_ids.to(device), rest_mask.to(device).bool()
    rest = rest_ids.shape[1]
    ids = torch.cat([rest_ids, trie.tokens.to(device).expand(rows, n)], dim=1)
    positions = torch.cat([start[:, None] + (rest_mask.cumsum(-1) - 1).clamp(min=0),
                           (start + rest_mask.sum(-1))[:, None] + trie.depth.to(device)], dim=1)
    # Queries: the rest of the prompt, then the tree; keys: the cached prefix, then the same.
    allowed = torch.zeros((rows, rest + n, width + rest + n), dtype=torch.bool, device=device)
    allowed[:, :, :width] = prefix_mask[:, None, :]
    allowed[:, :rest, width:width + rest] = _causal(rest_mask)
    allowed[:, rest:, width:width + rest] = rest_mask[:, None, :]
    allowed[:, rest:, width + rest:] = trie.ancestors.to(device)
    # Logits only where they are read: the prompt's last position and the tree.
    logits = model(input_ids=ids, attention_mask=_bias(allowed, dtype), position_ids=positions,
                   past_key_values=cache, use_cache=False,
                   **_keep(model, n + 1)).logits[:, -(n + 1):].float()
    steps, token = trie.steps.to(device), trie.token.to(device)
    picked = logits[:, steps, token] - torch.logsumexp(logits, -1)[:, steps]
    return (picked * trie.valid.to(device)).sum(-1).cpu().numpy()


def _causal(mask):
    """(rows, width, width): each real token attends to the real tokens up to itself. A padding
    query would attend to nothing: a row of -inf scores (the dtype's min plus a negative score
    overflows in half precision) is NaN, and a NaN value times a zero weight is still NaN in
    the next layer. Padding attends to itself instead (its output is never read)."""
    import torch

    width = mask.shape[1]
    tril = torch.ones((width, width), dtype=torch.bool, device=mask.device).tril()
    return (tril & mask[:, None, :]) | torch.eye(width, dtype=torch.bool, device=mask.device)


def _bias(allowed, dtype):
    """The additive 4D mask (0 / dtype min) that eager needs; sdpa would otherwise turn a
    boolean mask into this itself in every layer."""
    import torch

    return torch.zeros((allowed.shape[0], 1, *allowed.shape[1:]), dtype=dtype,
                       device=allowed.device).masked_fill_(~allowed[:, None],
                                                           torch.finfo(dtype).min)


def _keep(model, last: int) -> dict:
    """``logits_to_keep`` where the model takes it: the LM head (vocabulary-sized) runs on the
    positions that are read only."""
    import inspect

    forward = getattr(model, "get_base_model", lambda: model)().forward
    return {"logits_to_keep": last} if "logits_to_keep" in inspect.signature(
        forward).parameters else {}


def _score_repeat(model, tokenizer, prompts: list[list[int]], trie: _Trie,
                  device) -> np.ndarray:
    """The fallback for attention without custom masks: the prompt runs once, its KV cache is
    repeated per candidate, and every candidate sequence runs in one more forward pass."""
    import torch

    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    ids, mask = _left_pad(prompts, pad)
    rows, k = len(prompts), len(trie.answers)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    first = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                  position_ids=positions.to(device), use_cache=True, **_keep(model, 1))
    cache = first.past_key_values
    cache.batch_repeat_interleave(k)
    head = torch.log_softmax(first.logits[:, -1].float(), -1).repeat_interleave(k, 0)

    answers = [[*a, eos] for a in trie.answers]
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
