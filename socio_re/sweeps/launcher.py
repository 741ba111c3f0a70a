"""The sweep loop behind ``python train.py -m ...`` (hydra_plugins/socio_re_launcher holds the
thin Hydra plugin classes that call it); this module wires the pieces of sweeps/ together.

What it adds to hydra-submitit-launcher:
- a deterministic sweep directory and one directory per job named after the job's own
  overrides, so re-running the same command finds earlier work; skip jobs with a done marker,
  resume interrupted ones, re-run failed ones (sweeps/plan.py);
- bounded parallelism on the local executor (CPU cores or GPUs per job), distinct GPUs for
  concurrent local jobs (sweeps/local.py); one SLURM job array and an aggregate job after it
  (sweeps/slurm_array.py);
- one failing job does not stop the others (sweeps/outcome.py); a summary table at the end, then
  the cross-validation table of a fold sweep or the ranking of a grid (sweeps/report.py),
  non-zero exit if any job did not finish;
- an MLflow parent run created before the jobs start (sweeps/parent.py), the cross-validation
  aggregate on it (sweeps/finish.py);
- Ctrl-C stops the local jobs and marks the parent and the child runs left RUNNING as KILLED.

What runs inside each job is sweeps/job.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from socio_re.errors import UserError
from socio_re.launch.slurm import SubmissionError
from socio_re.sweeps.executor import make_executor
from socio_re.sweeps.job import JobInfo
from socio_re.sweeps.local import (
    RunningJob,
    parallel_slots,
    run_here,
    stop_after_ctrl_c,
    threads_per_process,
    visible_gpu_ids,
)
from socio_re.sweeps.outcome import collect_result, hydra_returns
from socio_re.sweeps.parent import open_sweep_run
from socio_re.sweeps.plan import PlannedJob, explicit_max_parallel, plan_jobs
from socio_re.sweeps.report import print_sweep_result, print_sweep_summary
from socio_re.sweeps.slurm_array import AggregateJob, run_on_slurm, submit_aggregate_job, tag_parent
from socio_re.sweeps.state import SWEEP_LOG, JobRecord
from socio_re.sweeps.submitit_adapter import executor_kind

log = logging.getLogger(SWEEP_LOG)

SUMMARY_FILE = "sweep_summary.json"


class SweepFailed(UserError):
    """Some jobs of the sweep did not finish; the summary above says which and why."""

    exit_code = 1


def launch_sweep(launcher, job_overrides, initial_job_idx: int):
    from hydra.core.singleton import Singleton
    from omegaconf import open_dict

    cfg = launcher.config
    sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.sweep.dir = str(sweep_dir)  # pickled with the launcher into every job
    sweep_id = f"{cfg.task.name}/{sweep_dir.name}"
    kind = executor_kind(launcher)
    local = kind == "local"
    folder = str(sweep_dir / ".submitit" / "%j")
    gpus = visible_gpu_ids() if local else []
    # Before the parent run: a wrong sweep.max_parallel stops here, with no run left RUNNING.
    explicit_max_parallel(cfg)
    slots, gpus_per_job = parallel_slots(cfg, gpus) if local else (0, 0)  # SLURM: its array
    if not local:  # sbatch --test-only: a refusal stops here, before the parent run exists
        from socio_re.launch.slurm import check_submittable

        check_submittable(make_executor(launcher, folder), len(job_overrides),
                          explicit_max_parallel(cfg))
    run = open_sweep_run(cfg, kind, sweep_id, sweep_dir)
    records, to_run = plan_jobs(job_overrides, sweep_dir, initial_job_idx,
                                cfg.sweep.get("rerun", "unfinished"))

    skipped = sum(r.status == "skipped" for r in records)
    log.info("sweep %s: %d jobs (%d already done, %d to run, %s) in %s", sweep_id,
             len(records), skipped, len(to_run),
             f"{slots} at a time" if local else "on SLURM", sweep_dir)
    print(f"sweep {sweep_id}: {len(records)} jobs, {skipped} already done, {len(to_run)} to run"
          + (f", {slots} at a time" if local else ""), flush=True)

    if not local:
        # Job states from sacct, or from squeue (one warning) where accounting is off.
        from socio_re.launch.slurm import use_queue_state_watcher

        use_queue_state_watcher()
    executor = make_executor(launcher, folder)
    state = Singleton.get_state()
    threads = threads_per_process(cfg, slots, gpus) if local else None

    def params(planned: PlannedJob) -> tuple:
        """The arguments of the plugin's ``__call__`` (sweeps/job.py) for one job."""
        rec = planned.record
        info = JobInfo(sweep_dir=str(sweep_dir), subdir=rec.name, sweep_id=sweep_id,
                       parent_run_id=run.parent, overrides=rec.overrides, threads=threads)
        return (planned.overrides, "hydra.sweep.dir", rec.num, f"job_id_for_{rec.num}", state,
                info)

    def collect(job, rec: JobRecord) -> None:
        collect_result(job, rec, sweep_dir, results)

    def after_array(array: str):
        """Submit the aggregate job after the array; the function that waits for it."""
        return submit_aggregate_job(
            aggregate, make_executor(launcher, folder), array,
            dict(launcher.params.get("additional_parameters") or {}), records, sweep_dir,
            task, tracking).wait

    results: dict[int, Any] = {}
    running: list[RunningJob] = []
    stopped = False  # by Ctrl-C
    task = str(cfg.task.name)
    tracking = run.finish_args(sweep_id)
    aggregate = AggregateJob()  # the SLURM aggregate job, once submitted
    try:
        if local:
            run_here(launcher, executor, list(to_run), running, params, slots, gpus,
                     gpus_per_job, collect)
        elif to_run:
            run_on_slurm(launcher, executor, cfg, list(to_run), params, collect,
                         lambda recs: tag_parent(run.uri, run.parent, recs), after_array)
    except SubmissionError:  # sbatch refused at submission: nothing runs, close the parent
        if run.parent is not None:
            from socio_re.sweeps.parent import finish_parent

            finish_parent(run.uri, run.parent, "FAILED")
        raise
    except KeyboardInterrupt:
        stopped = True
        stop_after_ctrl_c(running, records)

    unfinished = [r for r in records if r.status not in ("completed", "skipped")]
    if aggregate.has_result:  # the aggregate job did it on the cluster
        result = aggregate.result
    else:
        from socio_re.sweeps.finish import finish_sweep

        result = finish_sweep(records, sweep_dir, task, tracking, stopped=stopped,
                              jobs_cancelled=local)
    write_summary(sweep_dir, sweep_id, run.parent, records, aggregate.summary())
    print_sweep_summary(sweep_id, sweep_dir, run.parent, run.uri, records)
    print_sweep_result(records, task, result)
    if unfinished:
        raise SweepFailed(
            f"{len(unfinished)} of {len(records)} jobs did not finish (see the table above); "
            "fix the cause and re-run the same command: finished jobs are skipped, "
            "interrupted ones resume from their checkpoints")
    return hydra_returns(records, results)


def write_summary(sweep_dir: Path, sweep_id: str, parent: str | None,
                  records: list[JobRecord], aggregate_job: dict | None = None) -> None:
    """``sweep_summary.json``: every job's record, and the SLURM aggregate job if there was one."""
    (sweep_dir / SUMMARY_FILE).write_text(json.dumps(
        {"sweep_id": sweep_id, "parent_run_id": parent, "jobs": [asdict(r) for r in records],
         **({"aggregate_job": aggregate_job} if aggregate_job else {})},
        indent=1, default=str) + "\n")
