"""Score several socrates systems on the same rows and decoding: the paper's Table 2.

    python -m socio_re.cli.paper_table outputs/socrates/runs/<a> outputs/socrates/runs/<b>
    python -m socio_re.cli.paper_table RUN... --base qwen2.5-0.5b-instruct --decoding sample
    python -m socio_re.cli.paper_table RUN... --base tiny-causal --label RUN=NAME --out DIR

The first run directory's frozen ``config.yaml`` fixes the data, the split, the prompt
formatting and the evaluation settings (``--split``, ``--decoding``, ``--max-rows`` and
``--seed`` override them, as in ``socio_re.cli.evaluate``); every other run must have been
trained on the same data and prompt settings, so that every system answers the same rows. Each
run's final model (full or LoRA) and each ``--base`` model (a ``conf/model/`` name or a model
directory, zero-shot) is scored in turn, one model in memory at a time. The table (the uniform
baselines, then the base models, then the runs; W1 with 95% bootstrap intervals over studies,
the relative improvements over the uniform and over the first base model with paired intervals)
is printed and written as ``paper_table.csv`` and ``paper_table.md``; each system's predictions
and per-study tables go to ``<out>/<system>/``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from socio_re.cli.errors import run_reporting_user_errors
from socio_re.config.paths import MODEL_CONF_DIR
from socio_re.errors import DataError

log = logging.getLogger(__name__)

DEFAULT_OUT_ROOT = Path("outputs") / "socrates" / "tables"
TABLE_FILE = "paper_table.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="socio-re-paper-table", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="socrates run directories (config.yaml + model/); the first one fixes "
                        "the data, split, formatting and decoding")
    p.add_argument("--base", action="append", default=[], metavar="MODEL",
                   help="a model scored zero-shot (a conf/model/ name such as tiny-causal, or a "
                        "model directory); repeatable; the first is the 'vs base' reference")
    p.add_argument("--split", choices=["test", "val"], default=None)
    p.add_argument("--decoding", choices=["greedy", "sample", "score"], default=None)
    p.add_argument("--max-rows", type=int, default=None,
                   help="score a deterministic sample of this many rows (default: the first "
                        "run's task.eval.max_rows)")
    p.add_argument("--seed", type=int, default=None,
                   help="seeds the row sample, the decoding, the uniform draws and the bootstrap")
    p.add_argument("--out", type=Path, default=None,
                   help=f"output directory (default: {DEFAULT_OUT_ROOT}/<date_time>); one that "
                        f"already holds a {TABLE_FILE} is refused")
    p.add_argument("--label", action="append", default=[], metavar="SYSTEM=NAME",
                   help="the table's name for a run directory or a --base model (default: the "
                        "run's run_name, else its directory name)")
    return p.parse_args(argv)


@dataclass
class System:
    """One row of the table: a run's final model or a base model scored zero-shot."""

    label: str
    kind: str  # "base" | "model"
    source: str  # what the user passed (run directory or --base value)
    run_dir: Path | None = None
    rc: Any = None  # a run's RunConfig
    model_cfg: Any = None  # a base model's ModelConfig
    slug: str = ""
    warning: str | None = None


# --- checking the inputs (nothing is written before all of this passed) -----------------------

def _short(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def rows_settings(rc) -> dict[str, object]:
    """What decides the scored rows and how they are put to the model: must agree across runs."""
    from socio_re.tasks.socrates.data.prepared import split_shaping

    out: dict[str, object] = {"data.path": rc.data.path, "data.revision": rc.data.revision,
                              "data.subset": rc.data.subset}
    out.update({f"data.split.{k}": v for k, v in split_shaping(rc.data.split).items()})
    out["task.system_prompt"] = rc.task.system_prompt
    out["task.include_reasoning"] = rc.task.include_reasoning
    return out


def check_same_rows(first_dir: Path, first_rc, run_dir: Path, rc) -> None:
    """A DataError naming the first setting in which ``rc`` differs from ``first_rc``."""
    mine, theirs = rows_settings(first_rc), rows_settings(rc)
    for key in sorted(set(mine) | set(theirs)):
        if mine.get(key) != theirs.get(key):
            raise DataError(
                f"{run_dir} has {key}={_short(theirs.get(key))} but {first_dir} has "
                f"{_short(mine.get(key))}; a table compares systems on the same rows: pass runs "
                "trained on the same data and prompt settings (or make one table per setting)")


def _run_label(run_dir: Path) -> str:
    """The run's ``run_name`` (from ``summary.json``), else its directory's name."""
    import json

    from socio_re.execute import SUMMARY_FILE

    try:
        name = json.loads((run_dir / SUMMARY_FILE).read_text()).get("run_name")
    except (OSError, ValueError, AttributeError):
        name = None
    return str(name) if name else run_dir.name


def _load_runs(runs: list[Path]) -> list[System]:
    from socio_re.config.validate import load_run_config

    systems: list[System] = []
    seen: dict[Path, Path] = {}
    for given in runs:
        run_dir = given.expanduser().resolve()
        if run_dir in seen:
            twice = (f"{given} is given twice" if str(given) == str(seen[run_dir])
                     else f"{seen[run_dir]} and {given} are the same run directory")
            raise DataError(f"{twice}; pass each run directory once")
        seen[run_dir] = given
        if not run_dir.is_dir():
            raise DataError(f"{given} is not a directory; pass run directories made by train.py")
        rc = load_run_config(run_dir)
        if rc.task.name != "socrates":
            raise DataError(f"{given} is a {rc.task.name} run; this table compares socrates runs")
        if systems:
            check_same_rows(systems[0].run_dir, systems[0].rc, run_dir, rc)
        model = run_dir / "model"
        if not ((model / "config.json").is_file() or (model / "adapter_config.json").is_file()):
            raise DataError(f"{given} has no final model ({model} holds no config.json or "
                            "adapter_config.json): pass a run that finished training")
        systems.append(System(_run_label(run_dir), "model", str(given), run_dir=run_dir, rc=rc))
    return systems


def model_config_names() -> dict[str, str]:
    """``{name: kind}`` of the model configs in ``conf/model/``."""
    from omegaconf import OmegaConf

    out = {}
    for file in sorted(MODEL_CONF_DIR.glob("*.yaml")):
        out[file.stem] = str(OmegaConf.load(file).get("kind", "decoder"))
    return out


def base_model_config(spec: str, cache_dir: str):
    """The ModelConfig of ``--base spec``: a ``conf/model/`` name (its ``${paths.cache_dir}``
    resolved to the first run's cache) or a local model directory."""
    from omegaconf import OmegaConf

    from socio_re.config.schema import ModelConfig

    names = model_config_names()
    causal = ", ".join(n for n, kind in names.items() if kind != "encoder")
    if spec in names:
        if names[spec] == "encoder":
            raise DataError(f"--base {spec} is an encoder model; socrates scores causal LMs: "
                            f"pick one of {causal}")
        root = OmegaConf.create({"paths": {"cache_dir": cache_dir},
                                 "model": OmegaConf.load(MODEL_CONF_DIR / f"{spec}.yaml")})
        OmegaConf.resolve(root)
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig),
                                                   root.model))
    path = Path(spec).expanduser()
    if (path / "config.yaml").is_file() and (path / "model").is_dir():
        raise DataError(f"--base {spec} is a run directory: pass it as a RUN_DIR argument "
                        "(--base takes a model: a conf/model/ name or a model directory)")
    if path.is_dir():
        return ModelConfig(name=path.resolve().name, name_or_path=str(path.resolve()))
    raise DataError(f"--base {spec!r} is neither a model config nor a model directory; "
                    f"available: {causal} (conf/model/), or pass a local model directory")


def check_base_loads(system: System) -> None:
    """The base model's config loads (an offline model is built first); the train command's
    hints of a load failure reworded for this command's flags."""
    from socio_re.errors import ModelLoadError
    from socio_re.models.load import check_model_loads

    try:
        check_model_loads(system.model_cfg)
    except ModelLoadError as exc:
        text = (str(exc).replace("pass model.name_or_path=/local/dir", "pass --base /local/dir")
                .replace("model=tiny-causal", "--base tiny-causal"))
        raise ModelLoadError(f"--base {system.source}: {text}") from None


def base_warning(rc, system: System) -> str | None:
    """A base model already fine-tuned on SocSci210 on a split the project drew itself: its
    test studies may be in the model's training data (logged, and kept in systems.json)."""
    from dataclasses import replace

    from socio_re.tasks.socrates.run import contamination_warning

    warning = contamination_warning(replace(rc, model=system.model_cfg, train=False))
    if warning:
        log.warning("--base %s: %s", system.source, warning)
    return warning


def _base_systems(specs: list[str], cache_dir: str) -> list[System]:
    systems = []
    for spec in specs:
        cfg = base_model_config(spec, cache_dir)
        systems.append(System(f"base model: {cfg.name} (zero-shot)", "base", spec,
                              model_cfg=cfg))
    return systems


def apply_labels(systems: list[System], pairs: list[str]) -> None:
    """``--label SYSTEM=NAME``: SYSTEM is a run directory (any spelling of its path) or a
    ``--base`` value; a path holding ``=`` works (the first prefix naming a system wins)."""
    for pair in pairs:
        target = None
        for i, char in enumerate(pair):
            if char != "=":
                continue
            key, name = pair[:i], pair[i + 1:]
            resolved = Path(key).expanduser().resolve() if key else None
            target = next((s for s in systems if s.source == key
                           or (s.run_dir is not None and s.run_dir == resolved)), None)
            if target is not None:
                break
        if target is None:
            raise DataError(f"--label {pair!r}: expected SYSTEM=NAME where SYSTEM is one of the "
                            "run directories or --base models given")
        if not name.strip():
            raise DataError(f"--label {pair!r}: the name is empty")
        target.label = name.strip()


def slugify(label: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", label.lower()).strip("-.") or "system"


def assign_slugs(systems: list[System]) -> None:
    labels: dict[str, str] = {}
    for s in systems:
        if s.label in labels:
            raise DataError(f"two systems are labelled {s.label!r} ({labels[s.label]} and "
                            f"{s.source}); name them apart with --label SYSTEM=NAME")
        labels[s.label] = s.source
    used: set[str] = set()
    for s in systems:
        slug, n = slugify(s.label), 2
        while slug in used:
            slug, n = f"{slugify(s.label)}-{n}", n + 1
        used.add(slug)
        s.slug = slug


def output_dir(out: Path | None) -> Path:
    if out is None:
        from datetime import datetime

        out = DEFAULT_OUT_ROOT / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = out.expanduser().resolve()
    if (out / TABLE_FILE).exists():
        raise DataError(f"{out} already holds a paper table ({TABLE_FILE}); pass another --out "
                        "(or remove that directory) rather than mixing results")
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; pass a directory")
    return out


# --- scoring -------------------------------------------------------------------------------

def _load(system: System):
    """(model, tokenizer) of a system, in eval mode."""
    if system.kind == "base":
        from socio_re.models.load import load_base_model

        model, tokenizer = load_base_model(system.model_cfg)
    else:
        from socio_re.models.load import load_trained

        model, tokenizer = load_trained(system.rc, system.run_dir / "model")
    return model.eval(), tokenizer


def _free_memory() -> None:
    """After the caller dropped its model: one model in memory (and on the GPU) at a time."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _remove_new(out: Path, existed: bool, made: list[Path]) -> None:
    """Undo what this command wrote: the whole ``out`` if it made it, else its subfolders."""
    import shutil

    if not existed:
        shutil.rmtree(out, ignore_errors=True)
        return
    for path in made:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def paper_table_command(args: argparse.Namespace) -> dict[str, Path]:
    import json

    import pandas as pd

    from socio_re.tasks.socrates.data.prepared import prepare_splits
    from socio_re.tasks.socrates.evaluate import evaluate_frame
    from socio_re.tasks.socrates.paper_table import (
        TableEntry,
        caption_of,
        paper_table,
        print_table,
        unprefixed,
        write_table,
    )
    from socio_re.utils.console import setup_logging

    setup_logging()
    if args.max_rows is not None and args.max_rows < 1:
        raise DataError(f"--max-rows {args.max_rows}: pass a positive number of rows (or leave "
                        "it out for the first run's task.eval.max_rows)")
    runs = _load_runs(args.runs)
    rc = runs[0].rc  # the first run fixes data, split, formatting and evaluation
    bases = _base_systems(args.base, rc.paths.cache_dir)
    systems = bases + runs
    apply_labels(systems, args.label)
    assign_slugs(systems)
    out = output_dir(args.out)
    for base in bases:  # a wrong name, an unreachable hub: one line now, not after scoring
        check_base_loads(base)
        base.warning = base_warning(rc, base)

    e = rc.task.eval
    e.split = args.split or e.split
    e.decoding = args.decoding or e.decoding
    e.max_rows = args.max_rows if args.max_rows is not None else e.max_rows
    e.seed = args.seed if args.seed is not None else e.seed
    prepared = prepare_splits(rc.data, rc.paths.cache_dir)
    frame = prepared.sample(e.split, e.max_rows, e.seed)
    if frame.empty:
        raise DataError(f"the {e.split} split of {runs[0].source} has no rows; pick the other "
                        "split with --split")
    log.info("scoring %d systems on the same %d %s rows (%s decoding, seed %d)", len(systems),
             len(frame), e.split, e.decoding, e.seed)

    existed = out.exists()
    made: list[Path] = []
    try:
        entries = []
        for system in systems:
            log.info("scoring %s (%s)", system.label, system.source)
            model, tokenizer = _load(system)
            if not (out / system.slug).exists():
                made.append(out / system.slug)
            metrics, files = evaluate_frame(model, tokenizer, frame, rc.task, out / system.slug,
                                            prefix=e.split)
            del model, tokenizer
            _free_memory()
            per_study = pd.read_csv(files["per_study"], dtype={"study_id": str})
            entries.append(TableEntry(system.label, unprefixed(metrics, e.split), per_study,
                                      system.kind))
        table = paper_table(entries, seed=e.seed)
        caption = caption_of(e.split, rc.data.split.kind, len(frame),
                             int(frame["study_id"].nunique()), e.decoding)
        made += [p for p in (out / "paper_table.md", out / "systems.json") if not p.exists()]
        written = write_table(table, out, caption)
        made.append(out / TABLE_FILE)
        written["systems"] = out / "systems.json"
        written["systems"].write_text(json.dumps({
            "caption": caption, "rows": len(frame), "eval": asdict(e),
            "data": rows_settings(rc),
            "systems": [{"label": s.label, "kind": s.kind, "source": s.source,
                         "run_dir": str(s.run_dir) if s.run_dir else None,
                         "model": s.model_cfg.name_or_path if s.kind == "base"
                         else str(s.run_dir / "model"),
                         "fine_tuned_from": None if s.kind == "base" else s.rc.model.name,
                         "warning": s.warning,
                         "files": str(out / s.slug)} for s in systems],
        }, indent=1) + "\n")
    except BaseException:
        _remove_new(out, existed, made)
        raise

    print_table(table, f"SOCRATES Table 2 — {caption}")
    from rich.console import Console

    console = Console(file=sys.stdout, soft_wrap=True)
    console.print(f"[bold]paper table[/bold]    {written['paper_table']}", highlight=False)
    console.print(f"  {'csv':<13}{written['paper_table_csv']}")
    console.print(f"  {'systems':<13}{written['systems']}")
    for s in systems:
        console.print(f"  {s.label}: {out / s.slug}/{e.split}_predictions.csv, "
                      f"{e.split}_per_study.csv", highlight=False)
    return written


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    run_reporting_user_errors(lambda: paper_table_command(args))


if __name__ == "__main__":
    main()
