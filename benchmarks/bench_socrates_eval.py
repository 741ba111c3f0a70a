"""socrates evaluation: scoring every candidate answer of each row's scale (the whole answer
distribution, ``task.eval.decoding=score``) against generating one sampled answer per row (the
paper's protocol, ``decoding=sample``), the same model and rows; rows/s and the metrics.
Scoring runs twice: shared prompt prefixes once per group and the candidates as one prefix tree
after each prompt (the path sdpa and eager attention take), and the repeated-KV-cache fallback
(the path flash_attention_2 takes; scoring's only path before the tree).

    python benchmarks/bench_socrates_eval.py [--rows 200] [--rounds 2] [--model-dir RUN/model]

Without --model-dir the tiny model is first fine-tuned briefly (``debug=smoke``-sized) so the
metrics mean something. The modes alternate for --rounds rounds and each keeps its fastest
round: on a shared machine that is the round least slowed by other work.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, compose_rc, record, row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--model-dir", default=None)
    args = p.parse_args()

    from unittest import mock

    from socio_re.evaluation import candidates
    from socio_re.models.load import load_causal_lm, load_tokenizer
    from socio_re.tasks.socrates.data.prepared import prepare_splits
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
        assert candidates._tree_supported(model), model.config._attn_implementation
        results: dict[str, tuple[float, dict]] = {}
        for _ in range(args.rounds):
            for mode in ("sample", "score", "score-repeat"):
                rc.task.eval.decoding = mode.split("-")[0]
                # The fallback, forced on the same model: what scoring did before the tree.
                with mock.patch.object(candidates, "_tree_supported",
                                       return_value=mode != "score-repeat"):
                    start = time.perf_counter()
                    metrics, _ = evaluate_frame(model, tokenizer, frame, rc.task,
                                                Path(tmp) / mode)
                rps = len(frame) / (time.perf_counter() - start)
                results[mode] = (max(rps, results.get(mode, (0.0, {}))[0]), metrics)
    (score_rps, s), (gen_rps, g) = results["score"], results["sample"]
    repeat_rps, r = results["score-repeat"]
    # The same distributions up to float rounding (~1e-7): the draws agree, and metrics of the
    # probabilities themselves (expected value, whole distribution) differ in late digits only.
    diff = max((abs(s[k] - r[k]) for k in s if not math.isnan(s[k] - r[k])), default=0.0)
    rows = [row(f"socrates evaluation, {len(frame)} test rows, candidate scoring (shared "
                "prefixes + candidate tree)", score_rps, "rows/s", "generation (sample protocol)",
                gen_rps),
            row("candidate scoring: shared prefixes + candidate tree", score_rps, "rows/s",
                "repeated KV cache per candidate (fallback)", repeat_rps),
            row("candidate scoring: repeated KV cache (fallback)", repeat_rps, "rows/s",
                "generation (sample protocol)", gen_rps)]
    for key in ("wasserstein", "accuracy", "mae_normalized"):
        rows.append(row(f"test/{key}: scoring's protocol draw (generation in the baseline)",
                        s[f"test/{key}"], "", "generation", g[f"test/{key}"],
                        higher_is_better=key == "accuracy"))
    rows.append(row("test/wasserstein of the distribution's expected value",
                    s["test/expected/wasserstein"], "", "generation", g["test/wasserstein"],
                    higher_is_better=False))
    record("socrates_eval", rows, notes=(
        f"scored rows: {s['test/scored_rate']:.0%} (wider scales fall back to generation); "
        f"best of {args.rounds} alternating rounds per mode; largest metric difference between "
        f"the tree and the fallback: {diff:.1g}; metric ratios compare two draws from the same "
        "model, so values near 1 are expected"))


if __name__ == "__main__":
    main()
