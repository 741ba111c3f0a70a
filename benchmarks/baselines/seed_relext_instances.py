"""The seed pipeline's way of turning LitCoin abstracts into relext model inputs, without
socio_re: the baseline of ``benchmarks/bench_relext_prepare.py``.

What it mirrors (the seed pipeline of the LitCoin / BioRED relation-extraction work):

* the three tab-separated LitCoin files read with pandas (``abstracts``, ``entities``,
  ``relations``; offsets index ``title + " " + abstract``; ``entity_ids`` may hold several
  comma-separated ids);
* instances: a plain Python loop over every unordered pair of entity ids of an abstract (ids in
  order of first mention); a pair with a gold relation takes its type and its ``entity_1`` as A,
  every other pair is NOT; no filtering by entity-type pair;
* context: the sentences that mention either entity, joined by a space (a regex splitter: a
  sentence ends at ``.``/``?``/``!`` followed by whitespace and an uppercase letter or a digit;
  the title is its own sentence);
* entity markers inserted by string slicing, right to left, around every mention of A and of B
  (``typed_entity_marker_punct``: ``@ * Type * m @`` and ``# ^ Type ^ m #``, or the other marker
  methods); a mention that carries both ids gets both markers, A's outside;
* one ``tokenizer(text, padding="max_length", max_length=512, truncation=True)`` call per
  instance; the entity-start pooling positions are the tokens of the first A and B start markers,
  found with ``str.find`` and ``char_to_token``.

The rules are chosen so that, on the generated sample, the instances, their texts and their token
ids are those of socio_re (the benchmark checks it), so the timing compares the same work.

    python benchmarks/baselines/seed_relext_instances.py LITCOIN_DIR MODEL_DIR [--split train]
"""

from __future__ import annotations

import argparse
import re
import time

import pandas as pd

LABELS = ("NOT", "Association", "Positive_Correlation", "Negative_Correlation", "Bind",
          "Cotreatment", "Comparison", "Drug_Interaction", "Conversion")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[(\[\"']?[A-Z0-9])")
MARKERS = {  # method -> (A open, A close, B open, B close); {t} is the mention's entity type
    "typed_entity_marker_punct": ("@ * {t} *", "@", "# ^ {t} ^", "#"),
    "entity_marker_punct": ("@", "@", "#", "#"),
    "entity_marker": ("[E1]", "[/E1]", "[E2]", "[/E2]"),
    "typed_entity_marker": ("[SUBJ-{t}]", "[/SUBJ-{t}]", "[OBJ-{t}]", "[/OBJ-{t}]"),
}


def split_sentences(text, offset=0):
    spans, start = [], 0
    for m in SENTENCE_END.finditer(text):
        spans.append((offset + start, offset + m.start()))
        start = m.end()
    spans.append((offset + start, offset + len(text.rstrip())))
    return spans


def read_litcoin(directory, split="train"):
    """abstract_id -> {"text", "mentions": [(start, end, type, [ids])], "relations": {...}}."""
    opts = dict(sep="\t", dtype=str, keep_default_na=False, quoting=3)
    abstracts = pd.read_csv(f"{directory}/abstracts_{split}.csv", **opts)
    entities = pd.read_csv(f"{directory}/entities_{split}.csv", **opts)
    relations = pd.read_csv(f"{directory}/relations_{split}.csv", **opts)
    docs = {}
    for row in abstracts.itertuples():
        docs[row.abstract_id] = {"title": row.title, "text": row.title + " " + row.abstract,
                                 "mentions": [], "relations": {}}
    for row in entities.itertuples():
        ids = [i.strip() for i in row.entity_ids.split(",") if i.strip() not in ("", "-")]
        docs[row.abstract_id]["mentions"].append(
            (int(row.offset_start), int(row.offset_finish), row.type, ids))
    for row in relations.itertuples():
        pair = frozenset((row.entity_1_id, row.entity_2_id))
        if len(pair) == 2 and pair not in docs[row.abstract_id]["relations"]:
            docs[row.abstract_id]["relations"][pair] = (row.type, row.entity_1_id,
                                                        row.entity_2_id)
    return docs


def shift(m, sentences, origin):
    """A mention's (start, end, type) in the context; origin: sentence -> (doc, context) start."""
    k = next(k for k in origin if sentences[k][0] <= m[0] < sentences[k][1])
    s, p = origin[k]
    return (m[0] - s + p, m[1] - s + p, m[2])


def build_instances(docs):
    """Every unordered entity-id pair of every abstract: a dict with text, spans and label."""
    instances = []
    for abstract_id, doc in docs.items():
        text = doc["text"]
        sentences = (split_sentences(doc["title"])
                     + split_sentences(text[len(doc["title"]) + 1:], len(doc["title"]) + 1))
        mentions = sorted(doc["mentions"], key=lambda m: (m[0], m[1]))
        ids = []
        for m in mentions:
            for i in m[3]:
                if i not in ids:
                    ids.append(i)
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b, label = ids[i], ids[j], "NOT"
                rel = doc["relations"].get(frozenset((a, b)))
                if rel is not None:
                    label, a, b = rel
                ma = [m for m in mentions if a in m[3]]
                mb = [m for m in mentions if b in m[3]]
                wanted = sorted({k for m in ma + mb for k, (s, e) in enumerate(sentences)
                                 if s <= m[0] < e})
                context, origin, pos = [], {}, 0
                for k in wanted:
                    s, e = sentences[k]
                    origin[k] = (s, pos)
                    context.append(text[s:e])
                    pos += e - s + 1
                instances.append({
                    "abstract_id": abstract_id, "entity_a_id": a, "entity_b_id": b,
                    "label": label, "text": " ".join(context),
                    "entity_a": sorted({shift(m, sentences, origin) for m in ma}),
                    "entity_b": sorted({shift(m, sentences, origin) for m in mb}),
                })
    return instances


def mark(inst, method="typed_entity_marker_punct"):
    """The instance text with markers around every mention of A and B (string slicing)."""
    a_open, a_close, b_open, b_close = MARKERS[method]
    edits = {}  # (start, end) -> [(open, close), ...], outermost first
    for spans, opener, closer in ((inst["entity_a"], a_open, a_close),
                                  (inst["entity_b"], b_open, b_close)):
        for s, e, t in spans:
            edits.setdefault((s, e), []).append((opener.format(t=t), closer.format(t=t)))
    text = inst["text"]
    last_start = len(text) + 1
    for (s, e), marks in sorted(edits.items(), reverse=True):
        if e > last_start:  # overlaps a mention already marked to its right: left unmarked
            continue
        inner = text[s:e]
        for opener, closer in reversed(marks):
            inner = opener + " " + inner + " " + closer
        text = text[:s] + inner + text[e:]
        last_start = s
    return text, a_open.split("{t}")[0], b_open.split("{t}")[0]


def tokenize(instances, tokenizer, method="typed_entity_marker_punct", max_length=512):
    """One padded tokenizer call per instance, as the seed's dataset does."""
    features = []
    for inst in instances:
        text, a_tag, b_tag = mark(inst, method)
        enc = tokenizer(text, padding="max_length", max_length=max_length, truncation=True)
        a_pos = enc.char_to_token(text.find(a_tag))
        b_pos = enc.char_to_token(text.find(b_tag))
        features.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                         "label": LABELS.index(inst["label"]),
                         "a_pos": a_pos if a_pos is not None else 0,
                         "b_pos": b_pos if b_pos is not None else 0})
    return features


def main() -> None:
    from transformers import AutoTokenizer

    p = argparse.ArgumentParser()
    p.add_argument("litcoin_dir")
    p.add_argument("model")
    p.add_argument("--split", default="train")
    args = p.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    start = time.perf_counter()
    instances = build_instances(read_litcoin(args.litcoin_dir, args.split))
    built = time.perf_counter()
    features = tokenize(instances, tokenizer)
    done = time.perf_counter()
    print(f"{len(instances)} instances in {built - start:.2f} s, {len(features)} tokenized in "
          f"{done - built:.2f} s")


if __name__ == "__main__":
    main()
