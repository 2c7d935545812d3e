"""Airflow / Platform overview: is the platform alive, is work flowing, what failed or is late."""

from __future__ import annotations

from .common import Panels, new_dashboard, row, target

UID = "airdeck-overview"


def build():
    p = Panels()
    red_if_zero = ((None, "red"), (0.5, "green"))
    return (
        new_dashboard(UID, "Airflow / Platform overview",
                      "Service health, throughput, failures and deadline misses of the whole platform.")
        .with_row(row("Service health"))
        .with_panel(p.stat("Scheduler heartbeats / min", "Heartbeats of all schedulers; 0 means no scheduling.",
                           [target("sum(rate(airflow_scheduler_heartbeat_total[$__rate_interval])) * 60")],
                           steps=red_if_zero))
        .with_panel(p.stat("DAG processor heartbeats / min", "Heartbeats of the standalone dag-processor.",
                           [target("sum(rate(airflow_dag_processor_heartbeat_total[$__rate_interval])) * 60")],
                           steps=red_if_zero))
        .with_panel(p.stat("Triggerer heartbeats / min", "Heartbeats of all triggerers.",
                           [target("sum(rate(airflow_triggerer_heartbeat_total[$__rate_interval])) * 60")],
                           steps=red_if_zero))
        .with_panel(p.stat("Metrics bridge up", "1 when Prometheus scrapes the StatsD bridge.",
                           [target('min(up{job="airdeck-statsd"})')], steps=red_if_zero))
        .with_panel(p.stat("DAG import errors", "DAG files that currently fail to import.",
                           [target("max(airflow_dag_processing_import_errors)")],
                           steps=((None, "green"), (1, "red"))))
        .with_panel(p.stat("Firing alerts", "Platform alerts firing now (Prometheus ALERTS series).",
                           [target('count(ALERTS{alertstate="firing"}) or vector(0)')],
                           steps=((None, "green"), (1, "orange"))))
        .with_row(row("Throughput"))
        .with_panel(p.ts("Task attempts finished / s, by state", "Finished task attempts, all DAGs.",
                         [target("sum by (state) (rate(airflow_ti_finish_total[$__rate_interval]))",
                                 "{{state}}")], unit="ops"))
        .with_panel(p.ts("DAG runs finished / min, by state", "Finished DAG runs, all DAGs.",
                         [target("sum by (state) (rate(airflow_dagrun_duration_seconds_count[$__rate_interval])) * 60",
                                 "{{state}}")]))
        .with_panel(p.ts("Running", "DAG runs in the running state and tasks running in executors.",
                         [target("max(airflow_scheduler_dagruns_running)", "DAG runs", "A"),
                          target("sum(airflow_executor_running_tasks)", "tasks in executors", "B")]))
        .with_panel(p.ts("Task starts / min", "Task instances started by workers.",
                         [target("sum(rate(airflow_ti_start_total[$__rate_interval])) * 60", "started")]))
        .with_row(row("Failures and lateness"))
        .with_panel(p.ts("Failed DAG runs (last 10 min), by DAG",
                         "Includes each DAG's first failure (recording rule airflow:dagrun_failed:increase10m).",
                         [target("airflow:dagrun_failed:increase10m > 0", "{{dag_id}}")]))
        .with_panel(p.ts("Task failure ratio (1 h), worst 10 DAGs",
                         "Failed / (success + failed) task attempts per DAG over the last hour.",
                         [target("topk(10, airflow:ti_failure_ratio:1h)", "{{dag_id}}")],
                         unit="percentunit", max_one=True))
        .with_panel(p.ts("Deadline misses (last 10 min), by DAG",
                         "Airflow Deadline Alerts missed (the Airflow 3 replacement for SLAs).",
                         [target("airflow:deadline_missed:increase10m > 0", "{{dag_id}}")]))
        .with_panel(p.stat("Deadlines missed in range", "Missed deadlines over the selected time range.",
                           [target("sum(increase(airflow_deadline_alerts_deadline_missed_total[$__range]))"
                                   " or vector(0)")],
                           w=6, h=8, steps=((None, "green"), (1, "red"))))
        .with_panel(p.stat("Tasks killed without heartbeat in range",
                           "Task instances the scheduler killed because their heartbeat stopped.",
                           [target("sum(increase(airflow_task_instances_without_heartbeats_killed_total[$__range]))"
                                   " or vector(0)")],
                           w=6, h=8, steps=((None, "green"), (1, "orange"))))
    )
