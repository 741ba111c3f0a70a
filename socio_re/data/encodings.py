"""One batched call into a fast tokenizer's Rust backend, for the prepare steps of both tasks.

``tokenizer(texts)`` turns every encoding into Python dicts and lists (ids, attention masks,
token type ids), which takes longer than the tokenizing itself; reading ``Encoding.ids`` from
the backend's own batch call skips that. The backend's settings are restored afterwards, so the
tokenizer behaves as before for every other caller.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re

log = logging.getLogger(__name__)


def has_backend(tokenizer) -> bool:
    return bool(getattr(tokenizer, "is_fast", False)) and hasattr(tokenizer, "backend_tokenizer")


@contextlib.contextmanager
def plain_backend(tokenizer, max_length: int | None = None):
    """The fast tokenizer's Rust backend with no padding, truncated to ``max_length`` (None:
    not truncated) and special tokens in the text read as text unless the tokenizer splits
    them; its settings are restored on exit."""
    backend = tokenizer.backend_tokenizer
    truncation, padding = backend.truncation, backend.padding
    split_special = backend.encode_special_tokens
    if max_length is None:
        backend.no_truncation()
    else:
        backend.enable_truncation(max_length, stride=0, strategy="longest_first",
                                  direction=tokenizer.truncation_side)
    backend.no_padding()
    backend.encode_special_tokens = bool(getattr(tokenizer, "split_special_tokens", False))
    try:
        yield backend
    finally:
        backend.encode_special_tokens = split_special
        if truncation is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(**truncation)
        if padding is not None:
            backend.enable_padding(**padding)


def backend_encodings(tokenizer, texts: list[str], *, add_special_tokens: bool,
                      max_length: int | None = None) -> list:
    """The fast tokenizer's encodings of ``texts``, unpadded; truncated to ``max_length`` when
    given. The same backend call as ``tokenizer(texts, add_special_tokens=...,
    truncation=max_length is not None, max_length=max_length)``."""
    with plain_backend(tokenizer, max_length) as backend:
        return backend.encode_batch(texts, add_special_tokens=add_special_tokens)


# Pre-tokenizer regexes under which a single newline between two non-space characters always
# ends a pre-token, so text cut right after it tokenizes to the same ids piece by piece. Every
# alternative that can hold a newline holds only whitespace, or ends with the newlines (checked
# alternative by alternative; tests compare against whole-text encoding). GPT-2's ByteLevel
# regex qualifies for single newlines only (a run of two splits differently at the end of a
# string), which is why only single newlines are cut. o200k's ``[\r\n/]*`` can reach past a
# newline into "/", so it is not listed; unlisted tokenizers are encoded whole.
SEPARABLE_SPLIT_PATTERNS = frozenset({
    # Qwen2 / Qwen2.5
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    # Llama-3 / cl100k
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
})
# Cut after a newline that has a non-space character on both sides. Python's \S is narrower
# than the Rust regex's (it calls \x1c-\x1f space), so this never cuts where Rust sees space.
_PIECE_BOUNDARY = re.compile(r"(?<=\S\n)(?=\S)")
# Pieces kept per encoder; SocSci210's prompts are a few hundred distinct lines recombined.
MAX_CACHED_PIECES = 200_000
# Texts of the first call compared with whole-text encoding (a guard on top of the whitelist).
SELF_CHECK_TEXTS = 32


def _pre_tokenizer_cuts(state: dict | None) -> tuple[bool, bool]:
    """(every step keeps the cut points, some step ends a pre-token at each of them). Steps
    only ever split further, so one listed regex step makes the cuts exact; a ByteLevel step
    without its regex, or with a prefix space, would tokenize across or shift them."""
    kind = (state or {}).get("type")
    if kind == "Sequence":
        steps = [_pre_tokenizer_cuts(s) for s in state["pretokenizers"]]
        return all(ok for ok, _ in steps), any(cuts for _, cuts in steps)
    if kind == "ByteLevel":
        return not state.get("add_prefix_space"), bool(state.get("use_regex", True))
    if kind == "Digits":
        return True, False
    if kind == "Split":
        listed = (state.get("behavior") == "Isolated" and not state.get("invert")
                  and state.get("pattern", {}).get("Regex") in SEPARABLE_SPLIT_PATTERNS)
        return listed, listed
    return False, False


def piece_separable(tokenizer) -> bool:
    """Whether :class:`PieceCachedEncoder` may cut texts at single newlines: no normalizer but
    NFC (which never joins across a newline), a pre-tokenizer from the list above, and added
    tokens that neither strip nor hold whitespace."""
    if not has_backend(tokenizer):
        return False
    backend = tokenizer.backend_tokenizer
    normalizer = backend.normalizer
    if normalizer is not None and json.loads(normalizer.__getstate__()).get("type") != "NFC":
        return False
    pre = backend.pre_tokenizer
    if pre is None or not all(_pre_tokenizer_cuts(json.loads(pre.__getstate__()))):
        return False
    return not any(t.lstrip or t.rstrip or t.single_word or any(c.isspace() for c in t.content)
                   for t in backend.get_added_tokens_decoder().values())


class PieceCachedEncoder:
    """Token ids of texts without special tokens, equal to whole-text encoding, where each
    distinct line is tokenized once: texts are cut after single newlines into pieces, new
    pieces go to the backend in one batch, and each text's ids are its pieces' ids joined.
    Falls back to whole-text encoding for tokenizers where that would not be exact, and to the
    tokenizer's own batched call for tokenizers without a fast backend."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        # SOCIO_RE_LINE_CACHE=0 encodes whole texts (same ids, slower): for benchmarks, or to
        # rule the cache out when chasing a tokenization question.
        self.exact = (os.environ.get("SOCIO_RE_LINE_CACHE", "1") != "0"
                      and piece_separable(tokenizer))
        self.checked = False
        self.cache: dict[str, list[int]] = {}

    def _whole(self, texts: list[str]) -> list[list[int]]:
        if not has_backend(self.tokenizer):  # a slow tokenizer: its own batched call
            return [list(ids) for ids in
                    self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        return [e.ids for e in backend_encodings(self.tokenizer, texts, add_special_tokens=False)]

    def __call__(self, texts: list[str]) -> list[list[int]]:
        if not self.exact:
            return self._whole(texts)
        split = [_PIECE_BOUNDARY.split(t) for t in texts]
        cache = self.cache
        new = list(dict.fromkeys(p for pieces in split for p in pieces if p not in cache))
        if len(cache) + len(new) > MAX_CACHED_PIECES:
            cache.clear()
            new = list(dict.fromkeys(p for pieces in split for p in pieces))
        for piece, ids in zip(new, self._whole(new), strict=True):
            cache[piece] = ids
        out = [[i for p in pieces for i in cache[p]] for pieces in split]
        if not self.checked:
            self.checked = True
            head = texts[:SELF_CHECK_TEXTS]
            if self._whole(head) != out[:len(head)]:
                log.warning("piecewise tokenizing disagrees with whole-text tokenizing for this "
                            "tokenizer; encoding whole texts instead")
                self.exact = False
                return self._whole(texts)
        return out
