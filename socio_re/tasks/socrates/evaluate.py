"""Score a model on a SocSci split: generate, parse, compute the SOCRATES metrics, write tables."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

ID_COLUMNS = ["sample_id", "study_id", "participant", "condition_num", "task_num"]
# What the mode and the expected value (point predictions) are also scored by.
POINT_METRICS = ("wasserstein", "accuracy", "mae_normalized", "within_study_pearson",
                 "within_study_spearman")
# What the full predicted distributions are scored by (with their bootstrap intervals).
DISTRIBUTION_METRICS = ("wasserstein", "relative_improvement_vs_uniform")


def rows_to_score(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """All rows, or a deterministic sample of ``max_rows`` (whole cells are not guaranteed)."""
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame.sort_values("sample_id").reset_index(drop=True)


def evaluate_frame(model, tokenizer, frame: pd.DataFrame, task_cfg, out_dir: Path,
                   prefix: str = "test") -> tuple[dict[str, Any], dict[str, Path]]:
    """Predict every row of ``frame``; write predictions and per-study tables; return metrics."""
    from socio_re.evaluation.generate import generate_answers
    from socio_re.tasks.socrates.answers import parse_answer, parse_final_answer, parse_scale
    from socio_re.tasks.socrates.config import answer_budget
    from socio_re.tasks.socrates.formatting import prompts_ids
    from socio_re.tasks.socrates.metrics import compute_socrates_metrics

    e = task_cfg.eval
    prompts = prompts_ids(tokenizer, list(frame["prompt"]), task_cfg.system_prompt)
    # None: an open-ended answer (a dollar amount with no stated range): generated, never
    # candidate-scored; the metrics' uniform baseline uses the cell's observed human range.
    scales = [parse_scale(s) for s in frame["stimuli"]]
    open_ended = sum(s is None for s in scales)
    if open_ended:
        log.info("%d of %d %s rows state no answer range (open-ended): scored by generation",
                 open_ended, len(scales), prefix)
    scored: dict[str, list] = {}
    if e.decoding == "score" and not task_cfg.include_reasoning:
        scored = _score_answers(model, tokenizer, prompts, scales, e, prefix)
    todo = [i for i in range(len(prompts)) if not scored or scored["draw"][i] is None]
    texts = [""] * len(prompts)
    if todo:  # generation: every row, or the rows whose scale is too wide to enumerate
        generated = generate_answers(
            model, tokenizer, [prompts[i] for i in todo],
            decoding="sample" if e.decoding == "score" else e.decoding,
            temperature=e.temperature, top_p=e.top_p, max_new_tokens=answer_budget(task_cfg),
            batch_size=e.batch_size, seed=e.seed, desc=f"generating {prefix}")
        for i, text in zip(todo, generated, strict=True):
            texts[i] = text
    for i, value in enumerate(scored.get("draw", [])):
        if value is not None:
            texts[i] = str(value)
    # With a rationale first, only its closing "Answer: N" line counts (a cut-off rationale is
    # unparseable, not the last number it reached); a bare answer is its first number.
    parse = parse_final_answer if task_cfg.include_reasoning else parse_answer
    parsed = [parse(t) for t in texts]
    preds = frame[[c for c in ID_COLUMNS if c in frame]].copy()
    preds["response"] = frame["response"].to_numpy()
    preds["prediction"] = [float(p) if p is not None else math.nan for p in parsed]
    preds["scale_min"] = [s[0] if s else math.nan for s in scales]
    preds["scale_max"] = [s[1] if s else math.nan for s in scales]
    preds["raw_output"] = texts
    for key in ("mode", "expected", "distribution"):
        if scored:
            preds[f"pred_{key}"] = [math.nan if v is None else v for v in scored[key]]

    # The evaluation seed also seeds the uniform baseline's draws and the bootstrap over studies.
    metrics, per_study = compute_socrates_metrics(preds, seed=e.seed)
    if scored:  # the mode and the expected value of the same distributions, scored alike
        for key in ("mode", "expected"):
            alt, _ = compute_socrates_metrics(preds.assign(prediction=preds[f"pred_{key}"]),
                                              seed=e.seed, n_resamples=0)
            metrics.update({f"{key}/{k}": v for k, v in alt.items() if k in POINT_METRICS})
        # The whole protocol distribution of every scored row (generated rows: their answer),
        # compared with the exact uniform distribution (equal footing: both are distributions).
        full, _ = compute_socrates_metrics(preds, _distribution_atoms(preds, scored["protocol"]),
                                           seed=e.seed)
        metrics.update({f"distribution/{k}": v for k, v in full.items()
                        if k.startswith(DISTRIBUTION_METRICS)})
        metrics["scored_rate"] = sum(v is not None for v in scored["draw"]) / max(len(preds), 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "predictions": out_dir / f"{prefix}_predictions.csv",
        "per_study": out_dir / f"{prefix}_per_study.csv",
    }
    preds.to_csv(files["predictions"], index=False)
    per_study.to_csv(files["per_study"], index=False)
    named = {f"{prefix}/{k}": v for k, v in metrics.items()}
    return named, files


def _distribution_atoms(preds: pd.DataFrame, protocol: list):
    """(row, value, probability) atoms: a scored row's protocol distribution, or a generated
    row's parsed answer with probability 1."""
    import numpy as np

    rows, values, mass = [], [], []
    for i, (dist, pred) in enumerate(zip(protocol, preds["prediction"], strict=True)):
        if dist is not None:
            v, p = dist
            rows += [i] * len(v)
            values += list(v)
            mass += list(p)
        elif not math.isnan(pred):
            rows.append(i)
            values.append(pred)
            mass.append(1.0)
    return np.asarray(rows, dtype=np.int64), np.asarray(values, float), np.asarray(mass, float)


def _score_answers(model, tokenizer, prompts, scales, e, prefix: str) -> dict[str, list]:
    """Whole answer distributions over each row's scale: a seeded protocol draw, the mode, the
    expected value, the distribution itself (JSON, every value's probability to 6 decimals: on a
    101-point scale the tail below 0.001 still holds a few percent of the mass, enough to move
    the expected value) and the protocol's
    distribution (temperature and top_p applied: what the draw samples from)."""
    import json

    import numpy as np

    from socio_re.evaluation.candidates import (
        candidate_values,
        draw,
        protocol_distribution,
        score_candidates,
    )

    values = [candidate_values(s) for s in scales]
    probs = score_candidates(model, tokenizer, prompts, values, max_sequences=e.batch_size * 8,
                             desc=f"scoring {prefix} answers")
    rng = np.random.default_rng(e.seed)
    out: dict[str, list] = {"draw": [], "mode": [], "expected": [], "distribution": [],
                            "protocol": []}
    for vals, p in zip(values, probs, strict=True):
        if p is None:
            for key in out:
                out[key].append(None)
            continue
        v = np.asarray(vals, dtype=float)
        out["draw"].append(draw(p, vals, temperature=e.temperature, top_p=e.top_p, rng=rng))
        out["mode"].append(float(v[int(np.argmax(p))]))
        out["expected"].append(float((v * p).sum()))
        out["protocol"].append((vals, protocol_distribution(p, temperature=e.temperature,
                                                            top_p=e.top_p)))
        out["distribution"].append(json.dumps(
            {int(a): round(float(b), 6) for a, b in zip(vals, p, strict=True)
             if round(float(b), 6) > 0}))
    return out
