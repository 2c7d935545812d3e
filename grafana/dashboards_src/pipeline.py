"""Airflow / Metrics pipeline: health of the StatsD bridge that every other dashboard depends on."""

from __future__ import annotations

from .common import Panels, new_dashboard, row, target

UID = "airdeck-pipeline"
JOB = 'job="airdeck-statsd"'


def build():
    p = Panels()
    return (
        new_dashboard(UID, "Airflow / Metrics pipeline",
                      "StatsD bridge health: scrapes, events in, mapping outcomes, errors and drops.")
        .with_row(row("Bridge"))
        .with_panel(p.stat("Bridge up", "1 when Prometheus scrapes the bridge.", [target(f"min(up{{{JOB}}})")],
                           steps=((None, "red"), (0.5, "green"))))
        .with_panel(p.stat("Mapping rules loaded", "Rules loaded from prometheus/statsd-mapping.yml.",
                           [target(f"max(statsd_exporter_loaded_mappings{{{JOB}}})")]))
        .with_panel(p.stat("Unmapped events (range)", "Events no rule handled; must stay 0 (catch-all rule).",
                           [target(f"sum(increase(statsd_exporter_events_unmapped_total{{{JOB}}}[$__range]))")],
                           steps=((None, "green"), (1, "red"))))
        .with_panel(p.stat("Type conflicts (range)", "Events dropped because their name exists with another type.",
                           [target(f"sum(increase(statsd_exporter_events_conflict_total{{{JOB}}}[$__range]))"
                                   " or vector(0)")],
                           steps=((None, "green"), (1, "red"))))
        .with_panel(p.stat("Scrape duration", "Time Prometheus needs to scrape the bridge.",
                           [target(f"max(scrape_duration_seconds{{{JOB}}})")], unit="s"))
        .with_panel(p.stat("Series exported", "Series the bridge exposes (all types).",
                           [target(f"sum(statsd_exporter_metrics_total{{{JOB}}})")]))
        .with_row(row("Traffic"))
        .with_panel(p.ts("Events / s, by type", "StatsD events received (counters, gauges, observers).",
                         [target(f"sum by (type) (rate(statsd_exporter_events_total{{{JOB}}}[$__rate_interval]))",
                                 "{{type}}")], unit="ops"))
        .with_panel(p.ts("Mapping outcomes / s", "Events mapped, dropped by the catch-all, or unmapped.",
                         [target(f"sum by (action) (rate(statsd_exporter_events_actions_total{{{JOB}}}"
                                 "[$__rate_interval]))", "{{action}}", "A"),
                          target(f"sum(rate(statsd_exporter_events_unmapped_total{{{JOB}}}[$__rate_interval]))",
                                 "unmapped", "B")], unit="ops"))
        .with_panel(p.ts("Errors / s", "Malformed lines, rejected samples (e.g. negative counters) and tag errors.",
                         [target(f"sum by (reason) (rate(statsd_exporter_sample_errors_total{{{JOB}}}"
                                 "[$__rate_interval]))", "{{reason}}", "A"),
                          target(f"sum(rate(statsd_exporter_tag_errors_total{{{JOB}}}[$__rate_interval]))",
                                 "tag errors", "B")], unit="ops"))
        .with_panel(p.ts("UDP packet drops / s", "Packets dropped because the bridge could not keep up.",
                         [target(f"sum(rate(statsd_exporter_udp_packet_drops_total{{{JOB}}}[$__rate_interval]))",
                                 "dropped")], unit="pps"))
    )
