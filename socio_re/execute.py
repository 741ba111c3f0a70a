"""One job's task on this process: the only one, or one rank of several (the ranks of a
multi-process strategy run this, started by :mod:`socio_re.launch.spawn`). Rank 0 tracks the run
and writes ``metrics.json`` and ``summary.json``; the other ranks only compute.

Kept apart from :mod:`socio_re.run` (which validates, freezes and spawns) so that the ranks'
entry point imports this and nothing imports back up.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from socio_re.errors import RunInterrupted

SUMMARY_FILE = "summary.json"


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in metrics.items()}


def artifact_folder(path: Path, run_dir: Path) -> str | None:
    """Where an output goes among the run's MLflow artifacts: the folder it has in the run
    directory (``base_model/test_predictions.csv`` must not overwrite the run's own
    ``test_predictions.csv``), or the top for files outside it."""
    try:
        folder = path.resolve().parent.relative_to(run_dir.resolve())
    except ValueError:
        return None
    return None if folder == Path(".") else folder.as_posix()


def execute(rc, resolved: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The task on this process (the only one, or one rank of several). Rank 0 tracks and writes
    metrics.json and summary.json; the other ranks only compute."""
    from transformers import set_seed

    from socio_re.config.tasks import get_task
    from socio_re.launch.distributed import rank
    from socio_re.sweeps.tags import sweep_tags
    from socio_re.tracking import make_tracker
    from socio_re.tracking.params import config_params
    from socio_re.tracking.provenance import PROVENANCE_FILE, record_provenance
    from socio_re.tracking.run_names import default_run_name
    from socio_re.tracking.tracker import command_line_overrides, tracker_tags
    from socio_re.training.engine_report import describe_engine, read_engine_report

    task = get_task(rc.task.name)
    # Seed before any model is built: new heads and resized embedding rows start the same
    # in every run with the same seed (the Trainer only seeds at its own construction).
    set_seed(rc.seed)
    # A sweep job's own overrides are its directory's name; a single run's are its command line.
    run_name = rc.run_name or default_run_name(
        rc, run_dir.name.split("__") if rc.sweep.id else command_line_overrides(run_dir).split())
    tracker = make_tracker(
        rc.tracking,
        experiment=rc.tracking.experiment_name or rc.task.name,
        run_name=run_name,
        run_dir=run_dir,
    )
    tracker.set_tags({**tracker_tags(rc, run_dir), **sweep_tags(rc)})
    # Rank 0: provenance.json, its tags and the dataset inputs.
    record_provenance(rc, run_dir, tracker, splits=task.hook("data_splits"))
    tracker.log_params(config_params(resolved))
    tracker.log_artifact(run_dir / "config.yaml")
    status = "FAILED"
    try:
        result = task.run(rc, run_dir, tracker)
        if result.interrupted:
            status = "KILLED"
            from socio_re.training.preemption import requested

            signalled = requested()
            raise RunInterrupted(
                f"stopped after a checkpoint on {signalled} from SLURM (time limit or "
                "preemption ahead); the requeued job resumes from it" if signalled else
                f"stopped after the checkpoint at step {rc.trainer.stop_at_step} "
                "(trainer.stop_at_step); run the same command with the same hydra.run.dir "
                "to resume"
            )
        metrics = _json_safe(result.metrics)
        outputs = {"config": run_dir / "config.yaml", "metrics": run_dir / "metrics.json",
                   "provenance": run_dir / PROVENANCE_FILE, **result.artifacts, **result.paths}
        engine = read_engine_report(run_dir)
        summary = {"metrics": metrics, "outputs": {k: str(v) for k, v in outputs.items()},
                   "tracking": tracker.describe(), "run_name": tracker.run_name or run_name,
                   "engine": describe_engine(engine) if engine else None,
                   "report": result.report}
        if rank() == 0:
            (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
            (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
            tracker.log_metrics(result.metrics)
            for path in result.artifacts.values():
                tracker.log_artifact(path, artifact_folder(Path(path), run_dir))
            tracker.log_artifact(run_dir / "metrics.json")
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except Exception as exc:
        if status == "FAILED":  # the reason, one line, beside the status in the runs table
            from socio_re.tracking.store import one_line

            tracker.set_tags({"error": f"{type(exc).__name__}: {one_line(exc)}"})
        raise
    finally:
        tracker.finish(status)
    return summary
