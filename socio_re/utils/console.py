"""What the user sees: the config tree at the start and the summary at the end (rank 0 only)."""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

# Groups first, in the order a reader looks for them.
TREE_ORDER = ("task", "model", "data", "finetune", "strategy", "trainer", "tracking", "paths")


def print_config_tree(resolved: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("[bold]config[/bold]", guide_style="dim")
    sections = [k for k in TREE_ORDER if k in resolved]
    sections += [k for k, v in resolved.items() if k not in TREE_ORDER and isinstance(v, dict)]
    # Top-level scalars (seed, fold, resume, ...) share one branch instead of one each.
    scalars = {k: v for k, v in resolved.items() if not isinstance(v, dict)}
    for key, value in [*((k, resolved[k]) for k in sections), ("run", scalars)]:
        branch = tree.add(f"[bold cyan]{key}[/bold cyan]")
        text = yaml.safe_dump(value, sort_keys=False, width=100)
        branch.add(Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default"))
    Console(file=sys.stdout, soft_wrap=True).print(tree)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def print_summary(metrics: dict[str, Any], run_dir: Path, outputs: dict[str, Path],
                  tracking: str, engine: str | None = None, run_name: str | None = None,
                  report: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="final metrics", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, _fmt(v))
    console = Console(file=sys.stdout, soft_wrap=True)
    console.print(table)
    if report:  # plain text: a Markdown table reads the same on a console and in a paper draft
        console.print(report, markup=False, highlight=False)
    if run_name:
        console.print(f"[bold]run[/bold]            {run_name}", markup=True, highlight=False)
    if engine:
        console.print(f"[bold]engine[/bold]         {engine}", highlight=False)
    console.print(f"[bold]run directory[/bold]  {run_dir}")
    for name, path in outputs.items():
        console.print(f"  {name:<14} {path}")
    console.print(f"[bold]tracking[/bold]       {tracking}")


def setup_logging(run_dir: Path | None = None) -> None:
    """Our INFO lines on the console *and* in ``<run_dir>/run.log``; libraries' chatter at
    WARNING (their warnings still show)."""
    root = logging.getLogger()
    fmt = logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s", "%H:%M:%S")
    if run_dir is not None and not any(
        isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == run_dir
        for h in root.handlers
    ):
        fh = logging.FileHandler(run_dir / "run.log")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    # A FileHandler is a StreamHandler too: look for one that writes to the terminal.
    if not any(type(h) is logging.StreamHandler for h in root.handlers):
        sh = logging.StreamHandler()
        sh.setFormatter(fmt)
        root.addHandler(sh)
    root.setLevel(logging.INFO)
    # MLflow sets its own loggers' level when imported ("Creating initial MLflow database
    # tables..."); this is the level it reads (inherited by the ranks).
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # DeepSpeed's own internal call, once per rank per step kind: nothing for a user to do.
    warnings.filterwarnings("ignore", message=r"`torch\.distributed\.all_gather_into_tensor` "
                            "is deprecated", category=FutureWarning)
    quiet_library_progress_bars()
    quiet_library_loggers()


def quiet_library_loggers() -> None:
    """Library chatter down (``NOISY_LOGGERS``, ``CHATTY_WARNERS``). Cheap, no imports: the
    entry points call it first, so even a config check that imports a library (and so
    bitsandbytes) before logging is set up prints only our one line."""
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for chatty in CHATTY_WARNERS:
        logging.getLogger(chatty).setLevel(logging.CRITICAL)


def close_run_log(run_dir: Path) -> None:
    """Detach the run's log file (before its directory is removed)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == Path(run_dir):
            root.removeHandler(h)
            h.close()


# INFO chatter of libraries (mlflow's "Creating initial MLflow database tables..." and such).
NOISY_LOGGERS = ("httpx", "urllib3", "alembic", "mlflow", "filelock", "datasets")
# Warnings and errors that say nothing a user can act on, repeated by every rank: bitsandbytes'
# optional "kernels" package for CPU 4-bit matmuls (its own fallback runs), and the elastic
# launcher's copy of a worker's traceback (the worker's own error is what we report).
CHATTY_WARNERS = ("bitsandbytes.backends.cpu.ops", "torch.distributed.elastic")


def quiet_library_progress_bars() -> None:
    """Hide the per-file bars of saving/loading (model shards, arrow files); keep our own."""
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
