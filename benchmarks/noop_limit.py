"""The physical limit of one no-op task: run queued task instances exactly as a Celery worker does.

Started by ``platform_bench.py`` (not by hand) with the stock platform's Airflow environment, once the
scheduler has queued task instances of ``example_slow`` (``seconds=0``) and every Airflow service
except the api-server has been stopped. For each queued task instance it builds the workload the
scheduler would send (``ExecuteTask.make`` with the executor's JWT generator) and calls the Task SDK's
``supervise_task()`` in this process, the call a Celery pool process makes for every task: the supervisor
forks the task runner, which parses the DAG file and talks to the Execution API
(``/run``, heartbeats, ``/state``) of the running api-server. Like a pool process of airdeck's workers,
this process first imports ``airdeck.plan.worker_boot`` (the modules parsing a DAG file needs, the
supervisor's exit watch): a module every process already holds is not part of what a task must cost.

Protocol on stdout/stdin (one JSON line each), so the parent can measure the api-server and PostgreSQL
around exactly the measured loop:

    -> {"ready": N}          workloads built (imports and database reads are not measured)
    <- any line              go
    -> {"tasks": [...], "cpu_s": ..., "wall_s": ...}
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(dag_id: str, limit: int) -> int:
    # the protocol keeps the real stdout; everything Airflow logs goes to stderr
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # What a pool process holds before it forks a task runner, as in airdeck's workers: the modules
    # parsing a DAG file needs, and the supervisor's exit watch. Importing a module every process
    # already has is not part of what a task must cost.
    import airdeck.plan.worker_boot  # noqa: F401
    from airflow.configuration import conf
    from airflow.executors.base_executor import BaseExecutor
    from airflow.executors.workloads import ExecuteTask
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.execution_time.supervisor import supervise_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    generator = BaseExecutor().jwt_generator
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                         TaskInstance.state == TaskInstanceState.QUEUED)
                              .limit(limit)).all()
        workloads = [ExecuteTask.make(ti, generator=generator) for ti in tis]
    server = conf.get("core", "execution_api_server_url")
    print(json.dumps({"ready": len(workloads)}), file=protocol, flush=True)
    sys.stdin.readline()
    tasks = []
    started_cpu, started = cpu(), time.monotonic()
    for workload in workloads:
        t_cpu, t_wall = cpu(), time.monotonic()
        code = supervise_task(ti=workload.ti, dag_rel_path=workload.dag_rel_path,  # type: ignore[arg-type]
                         bundle_info=workload.bundle_info, token=workload.token, server=server,
                         log_path=workload.log_path, subprocess_logs_to_stdout=False)
        tasks.append({"exit": code, "cpu_s": round(cpu() - t_cpu, 3), "wall_s": round(time.monotonic() - t_wall, 3)})
    print(json.dumps({"tasks": tasks, "cpu_s": round(cpu() - started_cpu, 3),
                      "wall_s": round(time.monotonic() - started, 3)}), file=protocol, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
