"""Day-two operations on a platform: backup and restore, Airflow upgrades, moving an Airflow 2
deployment onto airdeck, and checking DAG code for what a new Airflow version breaks.

They sit above the targets (they stop, start and inspect a platform through `airdeck.stack`) and
below the CLI, which only parses arguments and prints their results.
"""
