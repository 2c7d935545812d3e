"""Airflow / Workers and pools: pools, task-instance states per queue, triggerer capacity."""

from __future__ import annotations

from .common import Panels, new_dashboard, query_variable, row, target

UID = "airdeck-workers"
POOL = 'pool_name=~"$pool"'


def build():
    p = Panels()
    return (
        new_dashboard(UID, "Airflow / Workers and pools",
                      "Pool slots and starvation, task instances per state and queue, triggerer capacity.")
        .with_variable(query_variable("pool", "Pool", "label_values(airflow_pool_open_slots, pool_name)"))
        .with_row(row("Pools"))
        .with_panel(p.ts("Pool slots", "Open, running, queued, scheduled and deferred slots per pool.",
                         [target(f"sum by (pool_name) (airflow_pool_open_slots{{{POOL}}})", "{{pool_name}} open", "A"),
                          target(f"sum by (pool_name) (airflow_pool_running_slots{{{POOL}}})",
                                 "{{pool_name}} running", "B"),
                          target(f"sum by (pool_name) (airflow_pool_queued_slots{{{POOL}}})",
                                 "{{pool_name}} queued", "C"),
                          target(f"sum by (pool_name) (airflow_pool_scheduled_slots{{{POOL}}})",
                                 "{{pool_name}} scheduled", "D"),
                          target(f"sum by (pool_name) (airflow_pool_deferred_slots{{{POOL}}})",
                                 "{{pool_name}} deferred", "E")], w=8))
        .with_panel(p.ts("Pool utilisation", "Running / (running + open) slots per pool.",
                         [target(f"airflow:pool_utilisation:ratio{{{POOL}}}", "{{pool_name}}")],
                         unit="percentunit", max_one=True, w=8))
        .with_panel(p.ts("Starving tasks", "Tasks waiting for a slot, per pool.",
                         [target(f"sum by (pool_name) (airflow_pool_starving_tasks{{{POOL}}})", "{{pool_name}}")],
                         w=8))
        .with_row(row("Task instances"))
        .with_panel(p.ts("Task instances by state", "Task instances per state, all queues.",
                         [target("sum(airflow_ti_scheduled)", "scheduled", "A"),
                          target("sum(airflow_ti_queued)", "queued", "B"),
                          target("sum(airflow_ti_running)", "running", "C"),
                          target("sum(airflow_ti_deferred)", "deferred", "D")]))
        .with_panel(p.ts("Queued and running by queue", "Task instances queued and running per executor queue.",
                         [target("sum by (queue) (airflow_ti_queued)", "{{queue}} queued", "A"),
                          target("sum by (queue) (airflow_ti_running)", "{{queue}} running", "B")]))
        .with_panel(p.ts("Task starts and finishes / min", "Started and finished task attempts, all DAGs.",
                         [target("sum(rate(airflow_ti_start_total[$__rate_interval])) * 60", "started", "A"),
                          target("sum(rate(airflow_ti_finish_total[$__rate_interval])) * 60", "finished", "B")]))
        # celery.execute_command.failure is not charted: on Airflow 3 the Celery provider runs workloads
        # through execute_workload, and only the Airflow 2 execute_command task sends that counter.
        .with_panel(p.ts("Celery publish timeouts / min",
                         "Workloads whose publish to the broker timed out ([celery] operation_timeout); retried.",
                         [target("sum(rate(airflow_celery_task_timeout_error_total[$__rate_interval])) * 60",
                                 "publish timeouts", "A")]))
        .with_row(row("Triggerer"))
        .with_panel(p.ts("Triggers running and capacity left", "Per triggerer host.",
                         [target("sum by (hostname) (airflow_triggers_running)", "{{hostname}} running", "A"),
                          target("sum by (hostname) (airflow_triggerer_capacity_left)", "{{hostname}} left", "B")],
                         w=8))
        .with_panel(p.ts("Triggerer capacity free", "Capacity left / total capacity per triggerer host.",
                         [target("airflow:triggerer_capacity_left:ratio", "{{hostname}}")],
                         unit="percentunit", max_one=True, w=8))
        .with_panel(p.ts("Trigger outcomes / min", "Triggers that fired, failed or blocked the event loop.",
                         [target("sum(rate(airflow_triggers_succeeded_total[$__rate_interval])) * 60",
                                 "succeeded", "A"),
                          target("sum(rate(airflow_triggers_failed_total[$__rate_interval])) * 60", "failed", "B"),
                          target("sum(rate(airflow_triggers_blocked_main_thread_total[$__rate_interval])) * 60",
                                 "blocked main thread", "C")], w=8))
    )
