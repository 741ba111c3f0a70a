"""Which jobs a sweep runs: one record and one directory per job, named after the job's own
overrides (so re-running the same command finds earlier work); jobs with a done marker are
skipped (``sweep.rerun=all``: run again), the others run (an interrupted one resumes from the
checkpoints in its directory, ``resume=auto``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from socio_re.sweeps.naming import job_dir_name
from socio_re.sweeps.state import JobRecord, clear_done, job_state, read_done


@dataclass
class PlannedJob:
    """A job to run: its record and the overrides it is composed with."""

    record: JobRecord
    overrides: list[str]


def varying(job_overrides) -> list[list[str]]:
    """Each job's overrides minus those shared by every job (those name the sweep, not it)."""
    common = set.intersection(*(set(o) for o in job_overrides)) if len(job_overrides) > 1 \
        else set()
    return [[o for o in overrides if o not in common] for overrides in job_overrides]


def plan_jobs(job_overrides, sweep_dir: Path, first_num: int,
              rerun: str) -> tuple[list[JobRecord], list[PlannedJob]]:
    """A record per job, and the jobs to run: all but those with a done marker (with
    ``sweep.rerun=all`` every job, its marker cleared)."""
    names = [job_dir_name(v) for v in varying([list(o) for o in job_overrides])]
    records: list[JobRecord] = []
    to_run: list[PlannedJob] = []
    for i, (job, name) in enumerate(zip(job_overrides, names, strict=True)):
        directory = sweep_dir / name
        rec = JobRecord(first_num + i, name, " ".join(job), str(directory))
        records.append(rec)
        state = job_state(directory)
        if state == "completed" and rerun == "unfinished":
            rec.status = "skipped"
            rec.metrics = (read_done(directory) or {}).get("metrics", {})
            continue
        if state == "completed":
            clear_done(directory)
        to_run.append(PlannedJob(rec, list(job)))
    return records, to_run


def explicit_max_parallel(cfg) -> int | None:
    """``sweep.max_parallel`` as set (None: null, as many as fit); the local scheduler's number
    of jobs at once, the SLURM array's ``%N``."""
    from socio_re.errors import ConfigError

    wanted = cfg.sweep.get("max_parallel")
    if wanted is None:
        return None
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise ConfigError("sweep.max_parallel", wanted,
                          "a number of jobs at once (1 or more), or null for as many as the "
                          "CPU cores or GPUs fit")
    return wanted
