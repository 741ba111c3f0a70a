"""Piecewise tokenizing (each distinct line once) gives the ids of whole-text tokenizing, for the
tiny model's tokenizer and for byte-level BPEs with the Qwen2 and Llama-3 split regexes; and it
refuses tokenizers where cutting at newlines would change the ids."""

from __future__ import annotations

import pytest

from socio_re.data import encodings

AWKWARD = [
    "line one\nline two\n\nafter a blank line\n- Age: 52\n- Income: $75,000 to $99,999\n",
    "trailing spaces  \nnext\n \n indented\n\n\n\nfour newlines\nend.",
    "punct.\n-dash\n's quote\n'd\n/slash\n2024\n12 cats\n\tTab\n",
    "ünïcödé\ne\u0301 combining\n\u00a0nbsp\n\u3000wide space\n\x1cgroup sep\nx",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n",
    "no newline at all", "", "\n", "\n\nx\n", "a\nb\nc\nd\ne\nf",
]


def _bpe(pattern: str | None):
    """A byte-level BPE trained here (offline) on the awkward texts, with a Split pre-tokenizer
    on ``pattern`` (None: GPT-2's ByteLevel regex), wrapped as a transformers fast tokenizer."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    if pattern is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(AWKWARD * 20 + ["\n\n\n" * 5, "  \n  \n"] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def _assert_same_as_whole(tokenizer, texts):
    encoder = encodings.PieceCachedEncoder(tokenizer)
    assert encoder.exact
    whole = [e.ids for e in encodings.backend_encodings(tokenizer, texts,
                                                        add_special_tokens=False)]
    assert encoder(texts) == whole
    assert encoder(list(reversed(texts))) == list(reversed(whole))  # served from the cache
    assert encoder.exact  # the self-check agreed


@pytest.mark.parametrize("pattern", [*sorted(encodings.SEPARABLE_SPLIT_PATTERNS), None])
def test_piecewise_ids_equal_whole_text_ids_for_listed_pre_tokenizers(pattern):
    _assert_same_as_whole(_bpe(pattern), AWKWARD)


def test_piecewise_ids_equal_whole_text_ids_for_the_tiny_model_on_real_prompts(tiny_causal):
    from socio_re.tasks.socrates.data.prepared import prepare_splits
    from socio_re.tasks.socrates.formatting import prompt_messages

    rc, _, tokenizer = tiny_causal
    frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["train"]
    texts = tokenizer.apply_chat_template(
        [prompt_messages(p, rc.task.system_prompt) for p in frame["prompt"]],
        add_generation_prompt=True, tokenize=False)
    encoder = encodings.PieceCachedEncoder(tokenizer)
    _assert_same_as_whole(tokenizer, texts + AWKWARD)
    encoder(texts)
    assert len(encoder.cache) < len(texts)  # lines repeat: far fewer pieces than rows


def test_tokenizers_where_newline_cuts_change_the_ids_are_encoded_whole():
    from tokenizers import Regex, pre_tokenizers

    tok = _bpe(None)
    backend = tok.backend_tokenizer
    # ByteLevel without its regex would let BPE merge across newlines.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    assert not encodings.piece_separable(tok)
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)  # shifts each piece
    assert not encodings.piece_separable(tok)
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[^\n]+\n[^\n]*"), behavior="isolated")
    assert not encodings.piece_separable(tok)  # an unlisted regex
    encoder = encodings.PieceCachedEncoder(tok)
    whole = [e.ids for e in encodings.backend_encodings(tok, AWKWARD, add_special_tokens=False)]
    assert not encoder.exact and encoder(AWKWARD) == whole and not encoder.cache


def test_a_disagreeing_tokenizer_is_caught_by_the_self_check(monkeypatch, caplog):
    from tokenizers import pre_tokenizers

    tok = _bpe(None)
    # A prefix space before every piece (not only the text), claimed separable: the check
    # notices and the encoder falls back to whole texts.
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    monkeypatch.setattr(encodings, "piece_separable", lambda t: True)
    encoder = encodings.PieceCachedEncoder(tok)
    texts = ["ab\ncd\nef", "ab\ncd"]
    whole = [e.ids for e in encodings.backend_encodings(tok, texts, add_special_tokens=False)]
    assert encoder(texts) == whole and not encoder.exact
    assert "piecewise tokenizing disagrees" in caplog.text
