"""Score a model on a SocSci split: generate, parse, compute the SOCRATES metrics, write tables."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

ID_COLUMNS = ["sample_id", "study_id", "participant", "condition_num", "task_num"]


def rows_to_score(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """All rows, or a deterministic sample of ``max_rows`` (whole cells are not guaranteed)."""
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame.sort_values("sample_id").reset_index(drop=True)


def evaluate_frame(model, tokenizer, frame: pd.DataFrame, task_cfg, out_dir: Path,
                   prefix: str = "test") -> tuple[dict[str, Any], dict[str, Path]]:
    """Predict every row of ``frame``; write predictions and per-study tables; return metrics."""
    from socio_re.evaluation.answers import parse_answer, parse_scale
    from socio_re.evaluation.generate import generate_answers
    from socio_re.metrics.socrates import compute_socrates_metrics
    from socio_re.tasks.socrates.formatting import prompt_ids

    e = task_cfg.eval
    prompts = [prompt_ids(tokenizer, p, task_cfg.system_prompt) for p in frame["prompt"]]
    texts = generate_answers(model, tokenizer, prompts, decoding=e.decoding,
                             temperature=e.temperature, top_p=e.top_p,
                             max_new_tokens=e.max_new_tokens, batch_size=e.batch_size,
                             seed=e.seed, desc=f"scoring {prefix}")
    # With a rationale first, the integer is the answer's last line.
    answers = [t.strip().splitlines()[-1] if task_cfg.include_reasoning and t.strip() else t
               for t in texts]
    parsed = [parse_answer(a) for a in answers]
    scales = [parse_scale(s) for s in frame["stimuli"]]
    preds = frame[[c for c in ID_COLUMNS if c in frame]].copy()
    preds["response"] = frame["response"].to_numpy()
    preds["prediction"] = [float(p) if p is not None else math.nan for p in parsed]
    preds["scale_min"] = [s[0] if s else math.nan for s in scales]
    preds["scale_max"] = [s[1] if s else math.nan for s in scales]
    preds["raw_output"] = texts

    metrics, per_study = compute_socrates_metrics(preds)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "predictions": out_dir / f"{prefix}_predictions.csv",
        "per_study": out_dir / f"{prefix}_per_study.csv",
    }
    preds.to_csv(files["predictions"], index=False)
    per_study.to_csv(files["per_study"], index=False)
    named = {f"{prefix}/{k}": v for k, v in metrics.items()}
    return named, files
