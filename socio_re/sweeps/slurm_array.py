"""A sweep on SLURM: one job array (at most ``sweep.max_parallel`` tasks at once), waited for
task by task through requeues, its job ids tagged on the MLflow parent run, and the aggregate
job (sweeps/finish.py) submitted to run on the cluster once every task has ended."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socio_re.launch.slurm import submission_errors
from socio_re.sweeps.outcome import error_line
from socio_re.sweeps.plan import PlannedJob, explicit_max_parallel
from socio_re.sweeps.state import SWEEP_LOG, JobRecord
from socio_re.sweeps.submitit_adapter import first_task_result, poll_again

log = logging.getLogger(SWEEP_LOG)


def run_on_slurm(launcher, executor, cfg, pending: list[PlannedJob],
                 params: Callable[[PlannedJob], tuple],
                 collect: Callable[[Any, JobRecord], None],
                 submitted: Callable[[list[JobRecord]], None] | None = None,
                 after_array: Callable[[str], Callable[[], None]] | None = None) -> None:
    """One SLURM job array (at most ``sweep.max_parallel`` at once), waited for job by job;
    ``submitted(records)`` once the jobs are on the cluster, ``after_array(array_id)`` then
    (the aggregate job); it returns a function that waits for what it submitted."""
    wanted = explicit_max_parallel(cfg)
    if wanted:
        executor.update_parameters(slurm_array_parallelism=wanted)
    columns = zip(*(params(p) for p in pending), strict=True)
    with submission_errors(len(pending)):  # sbatch's refusal: one line, not a traceback
        jobs = executor.map_array(launcher, *columns)
    records = [p.record for p in pending]
    for job, rec in zip(jobs, records, strict=True):
        # Submitted: a Ctrl-C leaves it on the cluster, the summary says where to look.
        rec.log, rec.job_id = str(job.paths.stderr), str(job.job_id)
        print(f"job #{rec.num} {rec.name}: SLURM job {rec.job_id}, log {rec.log}", flush=True)
    if submitted is not None:
        submitted(records)
    wait_for_aggregate = after_array(str(jobs[0].job_id).split("_")[0]) if after_array else None
    for job, rec in zip(jobs, records, strict=True):
        wait_through_requeues(job)
        collect(job, rec)
        print(f"job #{rec.num} {rec.name}: {rec.status} (SLURM job {rec.job_id})", flush=True)
    if wait_for_aggregate is not None:
        wait_for_aggregate()


def wait_through_requeues(job) -> None:
    """Wait for a SLURM job until it has a result or SLURM no longer lists it as queued: a job
    being requeued can look ended to the poller for a moment (it was once reported interrupted
    while its requeued attempt went on to finish)."""
    from socio_re.launch.slurm import still_queued

    while True:
        job.wait()
        if Path(job.paths.result_pickle).exists() or not still_queued(str(job.job_id)):
            return
        log.info("SLURM job %s was requeued; waiting for its next attempt", job.job_id)
        poll_again(job)  # back in the queue: poll it again
        time.sleep(2)


@dataclass
class AggregateJob:
    """The sweep's aggregate job on SLURM, once submitted (``job_id`` set); once waited for,
    its ``status`` and, when it completed, its ``result`` (``has_result``: the aggregate was
    done on the cluster, even when it found nothing to aggregate and returned None)."""

    job_id: str = ""
    log: str = ""
    dependency: str = ""
    status: str = ""  # completed | failed, once waited for
    result: dict[str, Any] | None = None
    has_result: bool = False
    job: Any = field(default=None, repr=False)  # submitit's SlurmJob

    def summary(self) -> dict[str, str] | None:
        """Its entry in sweep_summary.json; None when it was never submitted."""
        if not self.job_id:
            return None
        entry = {"job_id": self.job_id, "log": self.log, "dependency": self.dependency}
        return {**entry, "status": self.status} if self.status else entry

    def wait(self) -> None:
        """Wait for it; on failure the submitting command aggregates itself instead."""
        self.job.wait()
        try:
            self.result = first_task_result(self.job)
            self.has_result = True
            state = "completed"
        except Exception as exc:
            state = f"failed ({error_line(str(exc))}); aggregating here instead"
        self.status = state.split(" ")[0]
        print(f"aggregate: {state} (SLURM job {self.job_id})", flush=True)


def submit_aggregate_job(aggregate: AggregateJob, executor, array: str,
                         extra_parameters: dict[str, Any], records: list[JobRecord],
                         sweep_dir: Path, task: str, tracking: dict | None) -> AggregateJob:
    """Submit the sweep's aggregate job (sweeps/finish.py) with ``executor`` (a fresh one: the
    array's parameters stay the array's) to start after every task of ``array`` has ended;
    fills in and returns ``aggregate``."""
    from socio_re.sweeps.finish import aggregate_job

    # afterany: failed or cancelled tasks end the wait too (the aggregate says what finished).
    executor.update_parameters(slurm_additional_parameters={**extra_parameters,
                                                            "dependency": f"afterany:{array}"},
                               name="aggregate", nodes=1)  # one process: never several nodes
    with submission_errors():
        job = executor.submit(aggregate_job, records, str(sweep_dir), task, tracking)
    aggregate.job, aggregate.job_id, aggregate.log = job, str(job.job_id), str(job.paths.stderr)
    aggregate.dependency = f"afterany:{array}"
    print(f"aggregate: SLURM job {job.job_id} after array {array} (CV aggregate and fold "
          f"ensemble on the cluster), log {job.paths.stderr}", flush=True)
    return aggregate


def tag_parent(uri: str | None, parent: str | None, records: list[JobRecord]) -> None:
    """The SLURM job ids of a sweep's submitted jobs on its MLflow parent run (each child run
    has its own ``slurm_job_id``); a store that cannot be reached costs only the tag."""
    if parent is None or not records:
        return
    try:
        from socio_re.tracking.store import open_client

        open_client(uri).set_tag(parent, "slurm_job_ids",
                                 ",".join(r.job_id for r in records)[:5000])
    except Exception as exc:
        log.warning("could not tag MLflow parent run %s with the SLURM job ids: %s", parent, exc)
