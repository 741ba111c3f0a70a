"""Novelty of a relation (LitCoin/BioRED "Novel" / "No"): how the model predicts it.

``task.novelty`` picks one of two ways (docs/tasks/relext.md, "Novelty"):

- ``head`` (default): the pair head has one more output, a novelty logit read off the same
  pair representation as the type logits (a second head sharing the hidden layer), trained
  jointly with a binary cross-entropy on the gold *related* pairs only (NOT pairs have no
  novelty), weighted by ``task.novelty_loss_weight``;
- ``joint``: the classes are NOT plus every (type, novelty) combination, 1 + 2 x 8 = 17, as in
  the iKraph pipeline; one softmax, one cross-entropy;
- ``none``: no novelty prediction; every predicted relation is written "Novel".

Either way prediction gives the same two things: class probabilities over the type labels
(joint: summed over novelty) and ``p_novel``, P(Novel | the pair is related) (joint: the Novel
mass over the positive mass).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MODES = ("head", "joint", "none")
JOINT_SEP = "|"
IGNORE = -100  # novelty target of pairs without one (NOT pairs, unannotated relations)


def joint_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """``NOT, Association|Novel, Association|No, ...``: labels[0] (NOT) then each type twice."""
    return (labels[0], *(f"{t}{JOINT_SEP}{n}" for t in labels[1:] for n in ("Novel", "No")))


def model_labels(labels: Sequence[str], mode: str) -> tuple[str, ...]:
    """The classes the model's softmax runs over for ``mode``."""
    return joint_labels(labels) if mode == "joint" else tuple(labels)


def label_id(inst, labels: Sequence[str], mode: str) -> int:
    """Training class of an instance; joint: a relation of unknown novelty counts as Novel
    (the majority; LitCoin and BioRED annotate every training relation)."""
    t = labels.index(inst.type)
    if mode != "joint" or t == 0:
        return t
    return 2 * t - 1 + (inst.novel is False)


def novelty_target(inst) -> int:
    """1 Novel, 0 No, IGNORE for NOT pairs and relations without a novelty annotation."""
    if inst.type == "NOT" or inst.novel is None:
        return IGNORE
    return int(bool(inst.novel))


def split_joint(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint probabilities (n, 1 + 2T) -> type probabilities (n, 1 + T) and P(Novel | related)."""
    probs = np.asarray(probs, dtype=np.float64)
    novel, known = probs[:, 1::2], probs[:, 2::2]
    types = np.concatenate([probs[:, :1], novel + known], axis=1)
    positive = types[:, 1:].sum(axis=1)
    p_novel = np.divide(novel.sum(axis=1), positive, out=np.full(len(probs), 0.5),
                        where=positive > 0)
    return types, p_novel


def joint_to_type(ids: np.ndarray) -> np.ndarray:
    """Joint class ids -> type class ids (0 stays 0; 2t-1 and 2t -> t)."""
    ids = np.asarray(ids)
    return np.where(ids == 0, 0, (ids + 1) // 2)


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-x))
