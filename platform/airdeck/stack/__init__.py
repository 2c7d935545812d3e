"""The local stack: embedded PostgreSQL and Valkey, every Airflow service, under supervisord."""
