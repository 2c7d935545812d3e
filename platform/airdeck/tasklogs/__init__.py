"""Task logs: remote copies in S3, GCS or Azure Blob through Airflow's own remote logging (the providers'
RemoteLogIO classes), the start-up check of the destination, retention of local task log files, and
reading a task's log back wherever it is."""
