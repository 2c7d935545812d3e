################################################################################
# AKS: OIDC issuer, Workload Identity, Azure Policy, Entra ID RBAC, API open to
# operator_cidrs only, Cilium network policy, autoscaled workload pool
################################################################################

resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_6:authorized_ip_ranges is var.operator_cidrs, which its validation keeps non-empty and free of /0; checkov cannot resolve a variable without a default and reads it as empty.
  #checkov:skip=CKV_AZURE_115:The API server keeps its public address so that the apply which creates the cluster can install the release from the operator's laptop; api_server_access_profile admits operator_cidrs only.
  #checkov:skip=CKV_AZURE_117:OS and data disks are encrypted at rest with platform-managed keys; a disk encryption set (customer-managed key) is the user's choice.
  #checkov:skip=CKV_AZURE_226:Ephemeral OS disks need a VM size whose cache fits the OS disk; the default sizes use managed OS disks.
  #checkov:skip=CKV_AZURE_227:Encryption at host needs the EncryptionAtHost feature registered on the subscription (a manual step, docs/cloud.md); disks are encrypted at rest regardless.
  name                              = module.naming.cluster
  location                          = azurerm_resource_group.this.location
  resource_group_name               = azurerm_resource_group.this.name
  dns_prefix                        = var.name
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = "Standard"
  private_cluster_enabled           = false
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  azure_policy_enabled              = true
  local_account_disabled            = true
  role_based_access_control_enabled = true
  automatic_upgrade_channel         = "patch"
  node_os_upgrade_channel           = "NodeImage"
  tags                              = local.tags

  # The API answers operator_cidrs only (AKS adds the cluster's own outbound addresses itself).
  api_server_access_profile {
    authorized_ip_ranges = var.operator_cidrs
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_node_vm_size
    vnet_subnet_id               = azurerm_subnet.aks.id
    only_critical_addons_enabled = true
    auto_scaling_enabled         = true
    min_count                    = 2
    max_count                    = 3
    max_pods                     = 50
    zones                        = ["1", "2", "3"]
    temporary_name_for_rotation  = "systemtmp"

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    admin_group_object_ids = var.cluster_admins
  }

  # Azure CNI Overlay powered by Cilium: Cilium enforces the chart's NetworkPolicies.
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    pod_cidr            = var.pod_cidr
    load_balancer_sku   = "standard"
    outbound_type       = "loadBalancer"
  }

  oms_agent {
    log_analytics_workspace_id      = azurerm_log_analytics_workspace.this.id
    msi_auth_for_monitoring_enabled = true
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  # The application routing add-on (managed NGINX); the example adds its own NginxIngressController
  # whose load balancer admits operator_cidrs only, on the reserved address azurerm_public_ip.ui.
  web_app_routing {
    dns_zone_ids = []
  }

  lifecycle {
    precondition {
      condition     = var.node_min_count <= var.node_max_count
      error_message = "node_min_count (${var.node_min_count}) must not exceed node_max_count (${var.node_max_count})."
    }
  }
}

# Whoever runs Terraform administers the cluster too, so that the same apply installs the release.
resource "azurerm_role_assignment" "deployer_cluster_admin" {
  scope                = azurerm_kubernetes_cluster.this.id
  role_definition_name = "Azure Kubernetes Service RBAC Cluster Admin"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_kubernetes_cluster_node_pool" "workload" {
  #checkov:skip=CKV_AZURE_226:Ephemeral OS disks need a VM size whose cache fits the OS disk; the default size uses a managed OS disk.
  #checkov:skip=CKV_AZURE_227:Encryption at host needs the EncryptionAtHost feature registered on the subscription (a manual step, docs/cloud.md).
  name                  = "workload"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  vm_size               = var.node_vm_size
  vnet_subnet_id        = azurerm_subnet.aks.id
  auto_scaling_enabled  = true
  min_count             = var.node_min_count
  max_count             = var.node_max_count
  max_pods              = 50
  zones                 = ["1", "2", "3"]
  mode                  = "User"
  tags                  = local.tags
}
