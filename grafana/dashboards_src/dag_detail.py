"""Airflow / DAG detail: success ratio, durations, delays and task outcomes of selected DAGs."""

from __future__ import annotations

from .common import Panels, new_dashboard, query_variable, row, target

UID = "airdeck-dag"
DAG = 'dag_id=~"$dag_id"'
TASK = 'dag_id=~"$dag_id", task_id=~"$task_id"'


def build():
    p = Panels()
    return (
        new_dashboard(UID, "Airflow / DAG detail",
                      "Per-DAG success ratio, run and task durations (from histograms), schedule delay.")
        .with_variable(query_variable("dag_id", "DAG", "label_values(airflow_ti_finish_total, dag_id)"))
        .with_variable(query_variable("task_id", "Task",
                                      'label_values(airflow_ti_finish_total{dag_id=~"$dag_id"}, task_id)'))
        .with_row(row("Outcomes"))
        .with_panel(p.stat("DAG run success ratio (range)",
                           "Successful / finished DAG runs over the selected range (ratio of sums).",
                           [target(f'sum(increase(airflow_dagrun_duration_seconds_count{{{DAG}, state="success"}}'
                                   f"[$__range])) / sum(increase(airflow_dagrun_duration_seconds_count{{{DAG}}}"
                                   "[$__range]))")],
                           unit="percentunit", w=6, steps=((None, "red"), (0.9, "orange"), (0.99, "green"))))
        .with_panel(p.stat("Finished runs (range)", "DAG runs that finished in the selected range, by state.",
                           [target(f"sum by (state) (increase(airflow_dagrun_duration_seconds_count{{{DAG}}}"
                                   "[$__range]))", "{{state}}")], w=6))
        .with_panel(p.ts("DAG run success ratio (1 day), by DAG", "Recording rule airflow:dagrun_success_ratio:1d.",
                         [target(f"airflow:dagrun_success_ratio:1d{{{DAG}}}", "{{dag_id}}")],
                         unit="percentunit", max_one=True))
        .with_panel(p.ts("Task outcomes / min, by task and state", "Finished task attempts.",
                         [target(f"sum by (task_id, state) (rate(airflow_ti_finish_total{{{TASK}}}"
                                 "[$__rate_interval])) * 60", "{{task_id}} {{state}}")]))
        .with_panel(p.ts("Task failure ratio (1 h), by DAG", "Recording rule airflow:ti_failure_ratio:1h.",
                         [target(f"airflow:ti_failure_ratio:1h{{{DAG}}}", "{{dag_id}}")],
                         unit="percentunit", max_one=True))
        .with_row(row("Durations"))
        .with_panel(p.ts("DAG run duration (trailing hour), by DAG",
                         "p50/p95 of successful run durations from the run-duration histogram.",
                         [target("histogram_quantile(0.5, sum by (le, dag_id) (rate(airflow_dagrun_duration_seconds_"
                                 f'bucket{{{DAG}, state="success"}}[1h])))', "{{dag_id}} p50", "A"),
                          target("histogram_quantile(0.95, sum by (le, dag_id) (rate(airflow_dagrun_duration_seconds_"
                                 f'bucket{{{DAG}, state="success"}}[1h])))', "{{dag_id}} p95", "B")], unit="s"))
        .with_panel(p.ts("Task duration (trailing hour), by task", "p50/p95 of task attempt run time.",
                         [target("histogram_quantile(0.5, sum by (le, task_id) (rate(airflow_task_duration_seconds_"
                                 f"bucket{{{TASK}}}[1h])))", "{{task_id}} p50", "A"),
                          target("histogram_quantile(0.95, sum by (le, task_id) (rate(airflow_task_duration_seconds_"
                                 f"bucket{{{TASK}}}[1h])))", "{{task_id}} p95", "B")], unit="s"))
        .with_panel(p.ts("Mean task duration (trailing hour), by task", "Sum / count of task run time.",
                         [target(f"sum by (task_id) (rate(airflow_task_duration_seconds_sum{{{TASK}}}[1h])) / "
                                 f"sum by (task_id) (rate(airflow_task_duration_seconds_count{{{TASK}}}[1h]))",
                                 "{{task_id}}")], unit="s"))
        .with_panel(p.ts("Mean time queued (trailing hour), by task",
                         "Mean (not a percentile) time the DAG's task instances waited queued for a worker, by "
                         "Little's law: number queued averaged over 30 s steps (a step with none queued counts "
                         "as 0) / start rate.",
                         [target(f"(sum_over_time(sum by (task_id) (airflow_ti_queued{{{TASK}}})[1h:30s]) "
                                 f"or 0 * sum by (task_id) (increase(airflow_ti_start_total{{{TASK}}}[1h]))) "
                                 "/ on () group_left () count_over_time(vector(1)[1h:30s]) "
                                 f"/ (sum by (task_id) (rate(airflow_ti_start_total{{{TASK}}}[1h])) > 0)",
                                 "{{task_id}}")],
                         unit="s"))
        .with_row(row("Lateness"))
        .with_panel(p.ts("Schedule delay (trailing hour), by DAG",
                         "p95 delay between a scheduled run's expected and actual start.",
                         [target("histogram_quantile(0.95, sum by (le, dag_id) (rate("
                                 f"airflow_dagrun_schedule_delay_seconds_bucket{{{DAG}}}[1h])))", "{{dag_id}} p95")],
                         unit="s", w=8))
        .with_panel(p.ts("First task scheduling delay (trailing hour), by DAG",
                         "p95 delay between a run's expected start and its first task start.",
                         [target("histogram_quantile(0.95, sum by (le, dag_id) (rate("
                                 f"airflow_dagrun_first_task_scheduling_delay_seconds_bucket{{{DAG}}}[1h])))",
                                 "{{dag_id}} p95")], unit="s", w=8))
        .with_panel(p.ts("Deadline misses / hour, by DAG", "Airflow Deadline Alerts missed.",
                         [target("sum by (dag_id) (increase(airflow_deadline_alerts_deadline_missed_total"
                                 f"{{{DAG}}}[1h]))", "{{dag_id}}")], w=8))
    )
