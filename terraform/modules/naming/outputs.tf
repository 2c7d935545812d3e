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

output "service_account" {
  description = "Kubernetes service account every airdeck pod runs as (the chart's default: the release prefix)."
  value       = var.name
}

output "secret_names" {
  description = "Name of each platform secret in the cloud's secret store, by the chart's key (fernetKey, jwtSecret, jwtPrivateKey, apiSecretKey, logFetchKey, adminPassword, databaseUrl, brokerUrl)."
  value       = local.secret_names
}
