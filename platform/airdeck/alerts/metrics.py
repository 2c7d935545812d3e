"""Prometheus metrics of the alert pipeline, served by the dispatcher on ``alerts.dispatcher.port``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.queued = Counter("airdeck_alerts_queued_total", "Alerts queued in the outbox.", ["channel", "event"],
                              registry=r)
        self.sent = Counter("airdeck_alerts_sent_total", "Messages delivered.", ["channel", "kind"], registry=r)
        self.retried = Counter("airdeck_alerts_retried_total", "Deliveries rescheduled after an error.",
                               ["channel"], registry=r)
        self.failed = Counter("airdeck_alerts_failed_total", "Delivery attempts that failed.", ["channel"],
                              registry=r)
        self.dead = Counter("airdeck_alerts_dead_lettered_total",
                            "Alerts given up (older than max_age, or rejected for good).", ["channel"], registry=r)
        self.digested = Counter("airdeck_alerts_digested_total", "Alerts folded into a storm digest.", ["channel"],
                                registry=r)
        self.suppressed = Counter("airdeck_alerts_suppressed_total",
                                  "DAG-run alerts not sent because a task alert already covers the run.",
                                  ["channel"], registry=r)
        self.latency = Histogram(
            "airdeck_alerts_delivery_latency_seconds",
            "From the event in Airflow (task end, deadline) to the message being accepted by the channel.",
            ["channel"], buckets=(1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400), registry=r)
        self.outbox = Gauge("airdeck_alerts_outbox", "Outbox rows by state.", ["state"], registry=r)
        self.poll_errors = Counter("airdeck_alerts_poll_errors_total", "Failed reads of Airflow's REST API.",
                                   registry=r)
        self.last_poll = Gauge("airdeck_alerts_last_poll_timestamp_seconds",
                               "Unix time of the last successful poll of Airflow's state.", registry=r)
        self.oldest_pending_age = Gauge(
            "airdeck_alerts_oldest_pending_age_seconds",
            "Age of the oldest alert in the outbox not yet delivered (queued or sending); 0 when none.", registry=r)
        self.up = Gauge("airdeck_alerts_dispatcher_up", "1 while the dispatcher loop is healthy.", registry=r)
        self.polls = Counter("airdeck_alerts_polls_total", "Polls of Airflow's state (timer and /nudge).",
                             registry=r)
        self.poll_failures = Gauge(
            "airdeck_alerts_poll_failures_consecutive",
            "Polls of Airflow's state that failed in a row (0 after a good poll); /healthz is 503 from "
            "UNHEALTHY_AFTER_FAILED_POLLS on.", registry=r)
        self.item_errors = Counter(
            "airdeck_alerts_item_errors_total",
            "Items of Airflow's state skipped in a poll because they could not be read, enriched or stored "
            "(the other items are queued; the item is tried again at the next poll).", ["stage"], registry=r)
        self.nudges = Counter("airdeck_alerts_nudges_total",
                              "POST /nudge requests, by outcome (accepted, or refused as malformed).",
                              ["outcome"], registry=r)
        self.pruned = Counter("airdeck_alerts_pruned_total",
                              "Finished outbox rows deleted after alerts.delivery.retention.", registry=r)
        self.requeued = Counter("airdeck_alerts_requeued_stale_total",
                                "Rows found stuck in 'sending' (a delivery that never finished) and queued again.",
                                registry=r)
