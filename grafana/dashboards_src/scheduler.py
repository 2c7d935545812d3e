"""Airflow / Scheduler and executor: loop health, latency from scheduled to running, slots."""

from __future__ import annotations

from .common import Panels, new_dashboard, row, target

UID = "airdeck-scheduler"


def _quantiles(metric: str, by: str = "", window: str = "$__rate_interval") -> list:
    group = f"le, {by}" if by else "le"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        target(f"histogram_quantile(0.5, sum by ({group}) (rate({metric}_bucket[{window}])))", f"{legend}p50", "A"),
        target(f"histogram_quantile(0.95, sum by ({group}) (rate({metric}_bucket[{window}])))", f"{legend}p95", "B"),
    ]


def build():
    p = Panels()
    return (
        new_dashboard(UID, "Airflow / Scheduler and executor",
                      "Scheduler loop and critical section, task latency before running, executor slots, "
                      "DAG parsing.")
        .with_row(row("Scheduler loop"))
        .with_panel(p.ts("Scheduler loop duration", "p50 and p95 of one scheduler loop.",
                         _quantiles("airflow_scheduler_scheduler_loop_duration_seconds"), unit="s"))
        .with_panel(p.ts("Critical section duration", "p50 and p95 of the critical section (queueing tasks).",
                         _quantiles("airflow_scheduler_critical_section_duration_seconds"), unit="s"))
        .with_panel(p.ts("Critical section query duration", "p95 of the task-instance query in the critical section.",
                         [target("histogram_quantile(0.95, sum by (le) (rate("
                                 "airflow_scheduler_critical_section_query_duration_seconds_bucket[$__rate_interval])))",
                                 "p95")], unit="s"))
        .with_panel(p.ts("Critical section busy / min",
                         "Times a scheduler found the critical section locked by another scheduler (HA contention).",
                         [target("sum(rate(airflow_scheduler_critical_section_busy_total[$__rate_interval])) * 60",
                                 "busy")]))
        .with_row(row("Latency before running"))
        .with_panel(p.ts("Mean time queued before running (15 min), all queues",
                         "Mean (not a percentile) time task instances wait queued for a worker, by Little's law: "
                         "time-averaged number queued / start rate (recording rule "
                         "airflow:task_queued_wait_seconds:mean15m). Airflow 3 sends no queued-duration timer.",
                         [target("airflow:task_queued_wait_seconds:mean15m", "mean wait")], unit="s"))
        .with_panel(p.ts("Queued task instances, by queue",
                         "Task instances in the queued state per executor queue (sampled every 30 s).",
                         [target("sum by (queue) (airflow_ti_queued)", "{{queue}}")]))
        .with_panel(p.ts("Scheduled → queued latency, by queue",
                         "p50/p95 time task instances spend scheduled before being queued.",
                         _quantiles("airflow_task_scheduled_duration_seconds", "queue"), unit="s"))
        .with_panel(p.ts("Executable and starving tasks",
                         "Tasks the last loop could queue, and tasks blocked for lack of pool slots.",
                         [target("max(airflow_scheduler_tasks_executable)", "executable", "A"),
                          target("max(airflow_scheduler_tasks_starving)", "starving", "B")]))
        .with_panel(p.ts("Task state changes outside the executor",
                         "Tasks killed externally or without heartbeat, per minute.",
                         [target("sum(rate(airflow_scheduler_tasks_killed_externally_total[$__rate_interval])) * 60",
                                 "killed externally", "A"),
                          target("sum(rate(airflow_task_instances_without_heartbeats_killed_total"
                                 "[$__rate_interval])) * 60", "without heartbeat", "B")]))
        .with_row(row("Executor"))
        .with_panel(p.ts("Executor slots", "Open, queued and running slots per executor class.",
                         [target("sum by (executor_class_name) (airflow_executor_open_slots)",
                                 "{{executor_class_name}} open", "A"),
                          target("sum by (executor_class_name) (airflow_executor_queued_tasks)",
                                 "{{executor_class_name}} queued", "B"),
                          target("sum by (executor_class_name) (airflow_executor_running_tasks)",
                                 "{{executor_class_name}} running", "C")]))
        .with_panel(p.ts("Executor utilisation", "Running / (running + open) per executor class.",
                         [target("airflow:executor_utilisation:ratio", "{{executor_class_name}}")],
                         unit="percentunit", max_one=True))
        .with_row(row("DAG processing"))
        .with_panel(p.ts("Parse time and queue", "Seconds for a full parse of all DAG files; files waiting.",
                         [target("max(airflow_dag_processing_total_parse_time_seconds)", "full parse (s)", "A"),
                          target("max(airflow_dag_processing_file_path_queue_size)", "files queued", "B")], w=8))
        .with_panel(p.ts("Stalest DAG files", "Seconds since each DAG file was last parsed (top 10).",
                         [target("topk(10, max by (bundle_name, file_path) "
                                 "(airflow_dag_processing_last_run_seconds_ago))", "{{bundle_name}}/{{file_path}}")],
                         unit="s", w=8))
        .with_panel(p.ts("Slowest DAG files to parse", "p95 parse time per DAG file over the last hour (top 10).",
                         [target("topk(10, histogram_quantile(0.95, sum by (le, bundle_name, file_name) "
                                 "(rate(airflow_dag_processing_last_duration_seconds_bucket[1h]))))",
                                 "{{bundle_name}}/{{file_name}}")], unit="s", w=8))
        .with_panel(p.ts("Import errors and processor timeouts",
                         "DAG files failing to import; parsing processes killed for taking too long.",
                         [target("max(airflow_dag_processing_import_errors)", "import errors", "A"),
                          target("sum(increase(airflow_dag_processing_processor_timeouts_total[$__rate_interval]))",
                                 "processor timeouts", "B")], w=24))
    )
