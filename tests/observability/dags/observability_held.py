"""A DAG for the live observability test whose task instances stay in each state the panels count.

While its one run is open, the scheduler's periodic task-state gauges (``ti.scheduled``,
``ti.queued``, ``ti.running``, ``ti.deferred``) and the starving-task gauges always have something
to report, whatever the instant the scheduler samples them:

- ``starved`` needs 2 slots of the pool ``observability_starved``, which the test creates with 1
  (scheduled for ever, counted as starving at every scheduler loop: Airflow 3.3.2 leaves pools with
  no open slot out of the loop's query, scheduler_job_runner.py ``starved_pools``, so a task waiting
  in a 0-slot pool is never counted as starving);
- ``unserved`` is sent to the queue ``observability_unserved``, which no worker consumes
  (queued for ever);
- ``running`` sleeps for an hour;
- ``deferred`` waits an hour in the triggerer;
- ``trigger_fails`` defers to Airflow's ``FailureTrigger``, which raises in the triggerer;
- ``trigger_blocks`` defers to ``BlockingTrigger`` (the test's plugins folder), which blocks the
  triggerer's event loop every few seconds;
- ``changed_outside`` and ``heartbeat_lost`` sleep until the test changes their state behind the
  executor's back, and kills their process, respectively.

``trigger_fails``, ``changed_outside`` and ``heartbeat_lost`` have one retry, 5 s later: each failure
then happens twice. A counter series is born at its first event (value 1), so ``rate()`` and
``increase()`` see only the events after that; the second one is what the panels can show.

The run never finishes by itself; the platform is stopped under it at the end of the test.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import BaseOperator, dag, task
from airflow.triggers.testing import FailureTrigger

STARVED_POOL = "observability_starved"
UNSERVED_QUEUE = "observability_unserved"
RETRY_DELAY = timedelta(seconds=5)


class DeferTo(BaseOperator):
    """Defer at once to the trigger built by ``trigger_path`` (imported in the worker)."""

    def __init__(self, *, trigger: str, **kwargs):
        super().__init__(**kwargs)
        self.trigger = trigger

    def execute(self, context):
        if self.trigger == "failure":
            trigger = FailureTrigger()
        else:
            from observability_triggers import BlockingTrigger  # in the test's plugins folder

            trigger = BlockingTrigger(seconds=1.0)
        self.defer(trigger=trigger, method_name="resume")

    def resume(self, context, event=None):
        return event


@dag(
    dag_id="observability_held",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=16,
    tags=["test", "observability"],
)
def observability_held():
    @task(pool=STARVED_POOL, pool_slots=2)
    def starved() -> None:
        pass

    @task(queue=UNSERVED_QUEUE)
    def unserved() -> None:
        pass

    @task
    def running() -> None:
        time.sleep(3600)

    @task(retries=1, retry_delay=RETRY_DELAY)
    def changed_outside() -> None:
        time.sleep(3600)

    @task(retries=1, retry_delay=RETRY_DELAY)
    def heartbeat_lost() -> None:
        time.sleep(3600)

    starved()
    unserved()
    running()
    changed_outside()
    heartbeat_lost()
    TimeDeltaSensor(task_id="deferred", delta=timedelta(hours=1), deferrable=True)
    DeferTo(task_id="trigger_fails", trigger="failure", retries=1, retry_delay=RETRY_DELAY)
    DeferTo(task_id="trigger_blocks", trigger="blocking", retries=0)


observability_held()
