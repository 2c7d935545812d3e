output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "resource_group_name" {
  description = "Name of the resource group holding everything."
  value       = azurerm_resource_group.this.name
}

output "cluster_endpoint" {
  description = "URL of the cluster's API server (for the kubernetes and helm providers)."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].host
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM (for the kubernetes and helm providers)."
  value       = base64decode(azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate)
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster (then kubelogin convert-kubeconfig -l azurecli)."
  value       = "az aks get-credentials --resource-group ${azurerm_resource_group.this.name} --name ${azurerm_kubernetes_cluster.this.name}"
}

output "namespace" {
  description = "Kubernetes namespace the federated credential trusts."
  value       = var.namespace
}

output "prefix" {
  description = "Prefix of the release's objects (the chart's fullnameOverride and service account name)."
  value       = module.naming.prefix
}

output "workload_identity" {
  description = "Client id of the user-assigned identity the release's service account federates to."
  value       = azurerm_user_assigned_identity.workload.client_id
}

output "task_logs_url" {
  description = "logging.remote of the platform: wasb://container@account/prefix."
  value       = "wasb://${azurerm_storage_container.task_logs.name}@${azurerm_storage_account.task_logs.name}/${var.task_logs_prefix}"
}

output "storage_account_name" {
  description = "Name of the task log storage account."
  value       = azurerm_storage_account.task_logs.name
}

output "database_address" {
  description = "Host name of PostgreSQL (resolves privately in the VNet)."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "database_cidrs" {
  description = "CIDR blocks PostgreSQL and Redis live in (the NetworkPolicy egress peers)."
  value       = [local.subnets.postgres, local.subnets.endpoints]
}

output "broker_port" {
  description = "TCP port of Redis (6380: TLS)."
  value       = azurerm_redis_cache.this.ssl_port
}

output "key_vault_name" {
  description = "Name of the Key Vault holding the platform's secrets."
  value       = azurerm_key_vault.this.name
}

output "secret_names" {
  description = "Name of each platform secret in Key Vault, by the chart's key."
  value       = module.naming.secret_names
}

output "platform_secrets" {
  description = "Value of each platform secret, by the chart's key (for the Kubernetes Secrets of the airdeck module)."
  value       = local.platform_secrets
  sensitive   = true
}

output "admin_password_command" {
  description = "Command that prints the admin account's password."
  value       = "az keyvault secret show --vault-name ${azurerm_key_vault.this.name} --name ${module.naming.secret_names["adminPassword"]} --query value --output tsv"
}
