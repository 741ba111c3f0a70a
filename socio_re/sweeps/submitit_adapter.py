"""Every use of a private name of submitit, of the hydra-submitit-launcher plugin built on it, or
of Hydra's ``JobReturn`` that plugin's jobs return: the only module that touches one.

These libraries offer no public way to do what the sweeps need here (re-poll a requeued job,
render the sbatch script without submitting it, read a failed job's exception without it being
raised and printed). When an upgrade renames one of them, the sweep breaks here, in one place,
and tests/test_library_adapters.py names the attribute that went missing. pyproject.toml bounds
``submitit`` below its next major version for the same reason.

No module-level import of submitit: the launcher process stays light.
"""

from __future__ import annotations

from typing import Any

# --- hydra-submitit-launcher -----------------------------------------------------------------


def executor_kind(launcher) -> str:
    """``"local"`` or ``"slurm"``: the submitit executor a launcher class submits to
    (``BaseSubmititLauncher._EXECUTOR``, set by each plugin class)."""
    return launcher._EXECUTOR


# --- Hydra's JobReturn -----------------------------------------------------------------------


def returned_exception(job_return) -> Any:
    """What a job that did not complete returned: Hydra's ``run_job`` keeps the task's exception
    in ``JobReturn._return_value``; the public ``return_value`` re-raises it (and writes a line
    to stderr) instead of handing it over."""
    return job_return._return_value


# --- submitit jobs and executors -------------------------------------------------------------


def first_task_result(job) -> Any:
    """The job's result: its first task's. A job on several nodes runs one task per node, and
    submitit's ``result()`` refuses such a job; node 0's task is the one that reports (the
    others' ranks trained with it and return the same metrics)."""
    return job.task(0).result()


def poll_again(job) -> None:
    """Make the job's watcher poll a job it counted as finished (a requeued SLURM job is back in
    the queue): submitit only polls the jobs not in ``watcher._finished``."""
    job.watcher._finished.discard(str(job.job_id))


def slurm_executor(executor):
    """The SlurmExecutor an ``AutoExecutor`` wraps (``AutoExecutor._executor``), or
    ``executor`` itself when it is one."""
    return getattr(executor, "_executor", executor)


def convert_parameters(executor, params: dict[str, Any]) -> dict[str, Any]:
    """Generic parameters (timeout_min, mem_gb, ...) renamed and converted to the executor's own,
    as ``AutoExecutor.update_parameters`` does for them (``Executor._convert_parameters``)."""
    return executor._convert_parameters(params)


def submission_script(executor, uid: str) -> str:
    """The sbatch script a SlurmExecutor would submit now, rendered without submitting
    (``_make_submission_file_text`` on the executor's ``_submitit_command_str``)."""
    return executor._make_submission_file_text(executor._submitit_command_str, uid=uid)


def parse_node_list(nodelist: str) -> list[str]:
    """submitit's parser of a SLURM node list (``gpu[01-03],cpu1``), private in
    ``submitit.slurm.slurm``; raises its ``SlurmParseException`` or ValueError."""
    from submitit.slurm.slurm import _parse_node_list

    return _parse_node_list(nodelist)


# --- submitit's job-state watcher (socio_re.launch.slurm.QueueStateWatcher extends it) ---------


def watcher_delay_s(watcher) -> int:
    """The longest wait between two polls of a watcher (``InfoWatcher._delay_s``)."""
    return watcher._delay_s


def unfinished_jobs(watcher) -> set[str]:
    """The job ids a watcher polls: registered and not yet counted as finished."""
    return watcher._registered - watcher._finished


def count_poll(watcher) -> None:
    """One more call to the cluster, as ``InfoWatcher.update`` counts it (``num_calls``)."""
    watcher._num_calls += 1


def record_poll(watcher, info: dict[str, dict[str, str]] | None, output: str | None) -> None:
    """What ``InfoWatcher.update`` does after a poll: keep the states read (``info``, None when
    the poll failed) and the command's output, note the time, and count the jobs now done as
    finished (they are not polled again)."""
    import time

    if info is not None:
        watcher._info_dict.update(info)
    if output is not None:
        watcher._output = output.encode()  # submitit keeps it "for the record"
    watcher._last_status_check = time.time()
    for job_id in watcher._registered - watcher._finished:
        if watcher.is_done(job_id, mode="cache"):
            watcher._finished.add(job_id)
