"""What the user sees: the config tree at the start and the summary at the end (rank 0 only)."""

from __future__ import annotations

import logging
import math
import sys
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
                  tracking: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="final metrics", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, _fmt(v))
    console = Console(file=sys.stdout, soft_wrap=True)
    console.print(table)
    console.print(f"[bold]run directory[/bold]  {run_dir}")
    for name, path in outputs.items():
        console.print(f"  {name:<14} {path}")
    console.print(f"[bold]tracking[/bold]       {tracking}")


def setup_logging(run_dir: Path | None = None) -> None:
    """Console at INFO for our modules; a full log file in the run directory."""
    root = logging.getLogger()
    fmt = logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s", "%H:%M:%S")
    if run_dir is not None and not any(
        isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == run_dir
        for h in root.handlers
    ):
        fh = logging.FileHandler(run_dir / "run.log")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    if not root.handlers:
        sh = logging.StreamHandler()
        sh.setFormatter(fmt)
        root.addHandler(sh)
    root.setLevel(logging.INFO)
    quiet_library_progress_bars()
    for noisy in ("httpx", "urllib3", "alembic", "mlflow", "filelock", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def quiet_library_progress_bars() -> None:
    """Hide the per-file bars of saving/loading (model shards, arrow files); keep our own."""
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
