"""Failure and SLA alerts: a durable outbox fed from Airflow's REST state, delivered to Slack and email.

See docs/alerting.md for the design and configuration.
"""
