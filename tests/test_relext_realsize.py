"""The real-size profile of the LitCoin-schema generator (``profile="real"``): shaped like
LitCoin/BioRED (400 / 100 / 100 abstracts, about 10 relations and 34 mentions per abstract,
abstracts of about 250 words, about 23k training pair instances). Generation only, no model:
a few seconds."""

from __future__ import annotations

import re
import statistics

import pytest

from socio_re.tasks.relext.data.documents import LABELS
from socio_re.tasks.relext.data.instances import build_instances, type_pairs_of
from socio_re.tasks.relext.data.readers import read_corpus
from socio_re.tasks.relext.data.sample import generate_litcoin_documents, generate_litcoin_sample


@pytest.fixture(scope="module")
def real():
    return generate_litcoin_documents(profile="real", seed=0)


def test_real_profile_has_the_real_split_sizes(real):
    assert {s: len(d) for s, d in real.items()} == {"train": 400, "dev": 100, "test": 100}
    ids = [d.id for docs in real.values() for d in docs]
    assert len(set(ids)) == len(ids)  # no abstract in two splits


def test_real_profile_per_abstract_statistics(real):
    train = real["train"]
    relations = [len(d.relations) for d in train]
    mentions = [len(d.mentions) for d in train]
    words = [len(d.text.split()) for d in train]
    title_words = [len(d.title.split()) for d in train]
    sentences = [len(re.findall(r"[.!?] (?=[A-Z])", d.abstract)) + 1 for d in train]
    # Real training split: 4,178 relations (10.4 per abstract), 13,636 mentions (34 per
    # abstract), abstracts of about 200-300 words with titles of about 15.
    assert 9 <= statistics.mean(relations) <= 12
    assert 28 <= statistics.mean(mentions) <= 40
    assert 200 <= statistics.mean(words) <= 300
    assert 12 <= statistics.mean(title_words) <= 18
    assert 9 <= statistics.mean(sentences) <= 13
    assert 3_300 <= sum(relations) <= 5_000
    # Dev and test are denser, as BioRED's (1,162 and 1,163 relations in 100 abstracts).
    for split in ("dev", "test"):
        assert 950 <= sum(len(d.relations) for d in real[split]) <= 1_400


def test_real_profile_gives_about_the_real_instance_counts(real):
    pairs = type_pairs_of(real["train"])
    train, stats = build_instances(real["train"], type_pairs=pairs)
    test, _ = build_instances(real["test"], type_pairs=pairs)
    # Real corpus with these defaults: about 23k training and 7.6k test instances.
    assert 19_000 <= len(train) <= 27_000
    assert 6_100 <= len(test) <= 9_100
    assert 0.75 <= stats["count"]["NOT"] / len(train) <= 0.9
    assert all(stats["count"][label] for label in LABELS)  # every class present
    assert 0.1 <= stats["cross_sentence_share"] <= 0.25


def test_real_profile_is_opt_in_and_reads_back(tmp_path):
    # Smaller splits for speed; the files read back as a LitCoin corpus with a dev split.
    generate_litcoin_sample(tmp_path, profile="real", num_train=12, num_dev=8, num_test=8)
    corpus = read_corpus(tmp_path, "litcoin")
    assert {s: len(d) for s, d in corpus.items()} == {"train": 12, "dev": 8, "test": 8}
    assert sum(len(d.relations) for d in corpus["train"]) >= 12 * 5
    # The default stays the small sample, train and test only.
    sample = generate_litcoin_documents()
    assert {s: len(d) for s, d in sample.items()} == {"train": 160, "test": 40}
    with pytest.raises(ValueError, match="profile"):
        generate_litcoin_documents(profile="huge")
