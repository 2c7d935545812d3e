# Rendered by airdeck: the platform may read connections, variables and settings under airflow/, and nothing else (no list, no write).
path "airflow/data/connections/*" {
  capabilities = ["read"]
}
path "airflow/data/variables/*" {
  capabilities = ["read"]
}
path "airflow/data/config/*" {
  capabilities = ["read"]
}
