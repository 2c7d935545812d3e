output "prefix" {
  description = "Prefix of every object name (the deployment's name)."
  value       = var.name
}

output "cluster" {
  description = "Name of the Kubernetes cluster."
  value       = var.name
}

output "database" {
  description = "Name of the PostgreSQL server."
  value       = "${var.name}-postgres"
}

output "cache" {
  description = "Name of the Redis cache."
  value       = "${var.name}-redis"
}

output "bucket" {
  description = "Name of the task log bucket (AWS, GCP) or container (Azure)."
  value       = var.cloud == "azure" ? "task-logs" : local.bucket
}

output "storage_account" {
  description = "Name of the Azure storage account (empty on other clouds)."
  value       = var.cloud == "azure" ? local.storage_account : ""
}

output "key_vault" {
  description = "Name of the Azure Key Vault (empty on other clouds)."
  value       = var.cloud == "azure" ? local.key_vault : ""
}

output "workload_identity" {
  description = "Name of the workload identity: IAM role (AWS), service account id (GCP) or user-assigned identity (Azure)."
  value       = var.cloud == "gcp" ? local.gcp_service_account_id : "${var.name}-workload"
}

output "namespace" {
  description = "Kubernetes namespace of the release."
  value       = var.namespace
}

output "task_log_service_accounts" {
  description = "Kubernetes service accounts of the components that use the task log bucket, by the chart's values key: the workers and the triggerer write logs, the api-server reads them, the migration Job checks the bucket. The chart names each <prefix>-<component>; only these are trusted by the workload identity."
  value       = local.task_log_service_accounts
}

output "secret_names" {
  description = "Name of each platform secret in the cloud's secret store, by the chart's key (fernetKey, jwtSecret, jwtPrivateKey, apiSecretKey, logFetchKey, adminPassword, databaseUrl, brokerUrl)."
  value       = local.secret_names
}
