################################################################################
# Azure Container Registry for an image you build yourself (create_registry)
################################################################################

resource "random_id" "registry" {
  byte_length = 4
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:Nodes pull over the registry's public endpoint with the kubelet identity (AcrPull) and pushes need Entra ID; a private endpoint would make pushes from the operator's laptop impossible. Anonymous pull and the admin user are off.
  #checkov:skip=CKV_AZURE_163:Defender for Containers scans images per subscription; enabling it is the subscription owner's decision and cost.
  #checkov:skip=CKV_AZURE_164:Content trust (Notary v1) is retired by Azure; the published image is signed with cosign instead (docs/cloud.md, The image).
  #checkov:skip=CKV_AZURE_165:Geo-replication to a second region doubles the registry's cost for a single-region platform; the registry is zone-redundant.
  #checkov:skip=CKV_AZURE_166:Quarantine holds every pushed image until an external scanner releases it, which this module does not install.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints matter with firewall rules, which the registry does not use (see CKV_AZURE_139).
  count = var.create_registry ? 1 : 0

  # 5 to 50 letters and digits, globally unique.
  name                     = "${substr(replace(var.name, "-", ""), 0, 16)}acr${random_id.registry.hex}"
  location                 = azurerm_resource_group.this.location
  resource_group_name      = azurerm_resource_group.this.name
  sku                      = "Premium"
  admin_enabled            = false
  anonymous_pull_enabled   = false
  zone_redundancy_enabled  = true
  retention_policy_in_days = 7
  tags                     = local.tags
}

# The nodes' kubelet identity pulls the image.
resource "azurerm_role_assignment" "nodes_pull" {
  count = var.create_registry ? 1 : 0

  scope                = azurerm_container_registry.this[0].id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
}

# Whoever runs Terraform may push.
resource "azurerm_role_assignment" "deployer_push" {
  count = var.create_registry ? 1 : 0

  scope                = azurerm_container_registry.this[0].id
  role_definition_name = "AcrPush"
  principal_id         = data.azurerm_client_config.current.object_id
}

locals {
  registry_url = var.create_registry ? azurerm_container_registry.this[0].login_server : ""
}
