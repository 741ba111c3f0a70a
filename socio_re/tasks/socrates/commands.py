"""socrates' ``evaluate`` and ``predict`` commands (its ``evaluate_hook`` / ``predict_hook``):
``python -m socio_re.cli.evaluate RUN ...`` and ``python -m socio_re.cli.predict RUN ...`` read
the run's config and hand the rest of the command line to these.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from socio_re.errors import DataError

EVALUATE_DOC = """Evaluate a trained run (or any checkpoint) without training.

    python -m socio_re.cli.evaluate outputs/socrates/runs/<run>
    python -m socio_re.cli.evaluate outputs/socrates/runs/<run> --checkpoint <dir> --decoding sample

Reads the run's frozen ``config.yaml`` (so data, split and formatting are exactly the run's),
loads the final model (or the given checkpoint), scores the chosen split and writes the tables
and ``eval_metrics.json`` into ``<run>/eval/<name>/``.
"""

PREDICT_DOC = """Ask a trained socrates model how a described person would answer.

    python -m socio_re.cli.predict outputs/socrates/runs/<run> \
        --profile "Age: 34; Gender: Female; Ideology: Liberal" \
        --stimulus "How much do you support ...? Only return an integer from 1 to 7, nothing else."

Without --profile/--stimulus it asks for them on the terminal, one question after another, until
an empty profile. With --samples N it also draws N sampled answers and prints their distribution.
"""


def evaluate_main(argv: list[str]) -> None:
    evaluate(parse_evaluate_args(argv))


def predict_main(argv: list[str]) -> None:
    predict(parse_predict_args(argv))


def parse_evaluate_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m socio_re.cli.evaluate",
                                description=EVALUATE_DOC.split("\n")[1])
    p.add_argument("run_dir", type=Path, help="a socrates run directory (holds config.yaml)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="model or checkpoint directory (default: <run_dir>/model)")
    p.add_argument("--split", choices=["test", "val"], default=None)
    p.add_argument("--decoding", choices=["greedy", "sample", "score"], default=None)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--name", default=None, help="output subfolder name (default: derived)")
    return p.parse_args(argv)


def evaluate(args: argparse.Namespace) -> dict:
    from socio_re.config.validate import load_run_config
    from socio_re.models.load import load_trained
    from socio_re.tasks.socrates.data.prepared import prepare_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame
    from socio_re.utils.console import print_summary, setup_logging

    setup_logging()
    run_dir = args.run_dir.resolve()
    rc = load_run_config(run_dir)
    e = rc.task.eval
    e.split = args.split or e.split
    e.decoding = args.decoding or e.decoding
    e.max_rows = args.max_rows if args.max_rows is not None else e.max_rows
    e.seed = args.seed if args.seed is not None else e.seed
    model_dir = (args.checkpoint or run_dir / "model").resolve()
    model, tokenizer = load_trained(rc, model_dir)
    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    frame = prepared.sample(e.split, e.max_rows, e.seed)
    name = args.name or f"{model_dir.name}-{e.split}-{e.decoding}"
    out_dir = run_dir / "eval" / name
    metrics, files = evaluate_frame(model, tokenizer, frame, rc.task, out_dir, prefix=e.split)
    (out_dir / "eval_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print_summary(metrics, out_dir, {**files, "metrics": out_dir / "eval_metrics.json"},
                  f"not logged (model: {model_dir})")
    return metrics


def build_prompt(profile: str, stimulus: str) -> str:
    """The user prompt in SocSci210's style (as the sample generator writes it): intro line,
    profile bullets, instruction, stimulus."""
    from socio_re.tasks.socrates.data.sample import INSTRUCTION, INTRO_LINE

    fields = [f.strip() for f in profile.replace("\n", ";").split(";") if f.strip()]
    bullets = "\n".join(f"- {f}" for f in fields)
    return f"{INTRO_LINE}\n{bullets}\n\n{INSTRUCTION}\n\n{stimulus.strip()}"


def parse_predict_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m socio_re.cli.predict",
                                description=PREDICT_DOC.split("\n")[1])
    p.add_argument("run_dir", type=Path, help="a socrates run directory (holds config.yaml)")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--profile", default=None, help='"Field: value; Field: value; ..."')
    p.add_argument("--stimulus", default=None, help="vignette + question + answer format")
    p.add_argument("--samples", type=int, default=0,
                   help="also draw this many sampled answers (temperature/top_p of the run)")
    return p.parse_args(argv)


def answer(model, tokenizer, task_cfg, prompt: str, samples: int) -> str:
    from socio_re.evaluation.generate import generate_answers
    from socio_re.tasks.socrates.answers import parse_answer, parse_final_answer
    from socio_re.tasks.socrates.config import answer_budget
    from socio_re.tasks.socrates.formatting import prompt_ids

    ids = prompt_ids(tokenizer, prompt, task_cfg.system_prompt)
    e = task_cfg.eval
    # As evaluation does: a model trained rationale-first needs the room to reach its answer
    # line, and only that line is its answer.
    budget = answer_budget(task_cfg)
    parse = parse_final_answer if task_cfg.include_reasoning else parse_answer
    greedy = generate_answers(model, tokenizer, [ids], max_new_tokens=budget)[0]
    lines = [f"predicted answer: {parse(greedy)}   (raw: {greedy.strip()!r})"]
    if samples:
        drawn = generate_answers(model, tokenizer, [ids] * samples, decoding="sample",
                                 temperature=e.temperature, top_p=e.top_p,
                                 max_new_tokens=budget, seed=e.seed)
        counts = Counter(parse(t) for t in drawn)
        dist = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        lines.append(f"{samples} sampled answers: {dist}")
    return "\n".join(lines)


def predict(args: argparse.Namespace) -> None:
    from socio_re.config.validate import load_run_config
    from socio_re.models.load import load_trained

    run_dir = args.run_dir.resolve()
    rc = load_run_config(run_dir)
    model, tokenizer = load_trained(rc, (args.checkpoint or run_dir / "model").resolve())
    if args.profile is not None or args.stimulus is not None:
        if not (args.profile and args.stimulus):
            raise DataError("give both --profile and --stimulus (or neither, to be asked)")
        print(answer(model, tokenizer, rc.task, build_prompt(args.profile, args.stimulus),
                     args.samples))
        return
    print("Describe a person and a question; an empty profile ends.")
    while True:
        try:
            profile = input("profile (Field: value; ...)> ").strip()
            if not profile:
                return
            stimulus = input("stimulus (question + answer format)> ").strip()
        except EOFError:
            return
        print(answer(model, tokenizer, rc.task, build_prompt(profile, stimulus), args.samples))
