output "values" {
  description = "The airdeck chart's values, as an object (sensitive when `airdeck` or `extra_values` is)."
  value       = local.values
  sensitive   = true
}

output "values_yaml" {
  description = "The airdeck chart's values as YAML, for helm_release.values (sensitive when `airdeck` or `extra_values` is)."
  value       = yamlencode(local.values)
  sensitive   = true
}

output "ui_url" {
  description = "URL of the UI: https://<ingress.host>, or empty without an Ingress."
  value       = var.ingress == null ? "" : "https://${var.ingress.host}"
}

output "service_accounts" {
  description = "Kubernetes service accounts that carry the workload identity, by the chart's values key: the components that use the task log bucket (<prefix>-api-server, -triggerer, -worker, -migrate). Every other component runs as its own account without it."
  value       = { for key, name in local.task_log_components : key => "${var.prefix}-${name}" }
}

output "kubernetes_secrets" {
  description = "The Kubernetes Secrets the release mounts, by the chart's key: name of the Secret, key inside it and its labels (the Fernet key's Secret is labelled for rotation by the airdeck CLI)."
  value       = { for key, secret in local.secrets : key => { name = secret.existingSecret, key = secret.key, labels = local.secret_labels[key] } }
}

output "secret_data" {
  description = "The data of each Kubernetes Secret the release mounts, by Secret name: { key in the Secret = value }. The database URL is in its libpq form (postgresql://), which Airflow (SQLAlchemy 2.1 picks psycopg 3) and KEDA's PostgreSQL scaler (pgx) both read."
  sensitive   = true
  value = {
    for key, secret in local.secrets : secret.existingSecret => {
      (secret.key) = key == "databaseUrl" ? replace(var.platform_secrets[key], "/^postgres(ql)?\\+[a-z0-9]+:\\/\\//", "postgresql://") : var.platform_secrets[key]
    } if contains(keys(var.platform_secrets), key)
  }
}
