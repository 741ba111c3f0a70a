"""socrates evaluation: scoring every candidate answer of each row's scale (the whole answer
distribution, ``task.eval.decoding=score``) against generating one sampled answer per row (the
paper's protocol, ``decoding=sample``), the same model and rows; rows/s and the metrics.

    python benchmarks/bench_socrates_eval.py [--rows 200] [--model-dir RUN/model]

Without --model-dir the tiny model is first fine-tuned briefly (``debug=smoke``-sized) so the
metrics mean something.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, compose_rc, record, row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200)
    p.add_argument("--model-dir", default=None)
    args = p.parse_args()

    from socio_re.models.load import load_causal_lm, load_tokenizer
    from socio_re.tasks.socrates.data import prepare_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame

    rc = compose_rc(["task=socrates"])
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir
        if model_dir is None:
            subprocess.run([sys.executable, "train.py", "tracking=none", "evaluate=false",
                            "trainer.max_steps=60", "trainer.eval_steps=null",
                            "trainer.save_steps=1000", f"hydra.run.dir={tmp}/run"],
                           cwd=ROOT, check=True, capture_output=True)
            model_dir = f"{tmp}/run/model"
        tokenizer = load_tokenizer(rc.model, model_dir)
        model = load_causal_lm(rc.model, tokenizer, model_dir)
        frame = prepare_splits(rc.data, rc.paths.cache_dir).frames["test"].head(args.rows)
        results = {}
        for mode in ("sample", "score"):
            rc.task.eval.decoding = mode
            start = time.perf_counter()
            metrics, _ = evaluate_frame(model, tokenizer, frame, rc.task, Path(tmp) / mode)
            results[mode] = (len(frame) / (time.perf_counter() - start), metrics)
    (score_rps, s), (gen_rps, g) = results["score"], results["sample"]
    rows = [row(f"socrates evaluation, {len(frame)} test rows, candidate scoring", score_rps,
                "rows/s", "generation (sample protocol)", gen_rps)]
    for key in ("wasserstein", "accuracy", "mae"):
        rows.append(row(f"test/{key}: scoring's protocol draw (generation in the baseline)",
                        s[f"test/{key}"], "", "generation", g[f"test/{key}"],
                        higher_is_better=key == "accuracy"))
    rows.append(row("test/wasserstein of the distribution's expected value",
                    s["test/expected/wasserstein"], "", "generation", g["test/wasserstein"],
                    higher_is_better=False))
    record("socrates_eval", rows, notes=(
        f"scored rows: {s['test/scored_rate']:.0%} (wider scales fall back to generation); "
        "metric ratios compare two draws from the same model, so values near 1 are expected"))


if __name__ == "__main__":
    main()
