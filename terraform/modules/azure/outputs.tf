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

output "ui_url" {
  description = "URL of the UI: https://<host>."
  value       = "https://${var.host}"
}

output "ui_address" {
  description = "Public IPv4 address of the UI's load balancer (the host's A record points at it)."
  value       = azurerm_public_ip.ui.ip_address
}

output "ingress" {
  description = "What the example's NginxIngressController needs: the reserved address, its resource group and the load balancer's allowed source ranges."
  value = {
    public_ip_name  = azurerm_public_ip.ui.name
    resource_group  = azurerm_resource_group.this.name
    allowed_ranges  = join(",", var.operator_cidrs)
    controller_name = "${var.name}-nginx"
  }
  # The cluster may use the address only once its identity holds Network Contributor.
  depends_on = [azurerm_role_assignment.cluster_network]
}

output "cert_manager" {
  description = "With dns_zone: what cert-manager's Let's Encrypt DNS-01 issuer needs (the federated identity's client id, the zone, its resource group and subscription); null without."
  value = var.dns_zone == "" ? null : {
    client_id       = azurerm_user_assigned_identity.cert_manager[0].client_id
    zone_name       = local.dns_zone_name
    resource_group  = local.dns_zone_group
    subscription_id = local.dns_zone_parts[2]
  }
}

output "registry_url" {
  description = "Login server of the created Azure Container Registry; empty unless create_registry."
  value       = local.registry_url
}

output "image_push_commands" {
  description = "Commands that build the image and push it to the created registry; empty unless create_registry."
  value       = var.create_registry ? "az acr login --name ${azurerm_container_registry.this[0].name} && scripts/image ${local.registry_url}/airdeck" : ""
}
