"""DAG delivery: Airflow 3 DAG bundles from git (versioned runs) or folders, their status and checks."""
