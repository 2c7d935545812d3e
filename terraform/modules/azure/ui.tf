################################################################################
# The UI: a reserved public address for the application routing add-on's NGINX
# (its load balancer admits operator_cidrs only), with dns_zone the A record and
# the identity cert-manager uses for Let's Encrypt's DNS-01 challenges.
################################################################################

resource "azurerm_public_ip" "ui" {
  name                = "${var.name}-ui"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = ["1", "2", "3"]
  tags                = local.tags
}

# The cluster's identity places the NGINX load balancer on that address and manages the subnet's NICs.
resource "azurerm_role_assignment" "cluster_network" {
  scope                = azurerm_resource_group.this.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.this.identity[0].principal_id
}

locals {
  dns_zone_parts = split("/", var.dns_zone)
  dns_zone_name  = var.dns_zone == "" ? "" : local.dns_zone_parts[8]
  dns_zone_group = var.dns_zone == "" ? "" : local.dns_zone_parts[4]
  # The record's name inside the zone ("@" for the zone's apex).
  dns_record_name = var.host == local.dns_zone_name ? "@" : trimsuffix(var.host, ".${local.dns_zone_name}")
}

resource "azurerm_dns_a_record" "ui" {
  count = var.dns_zone == "" ? 0 : 1

  name                = local.dns_record_name
  zone_name           = local.dns_zone_name
  resource_group_name = local.dns_zone_group
  ttl                 = 300
  records             = [azurerm_public_ip.ui.ip_address]
  tags                = local.tags

  lifecycle {
    precondition {
      condition     = var.host == local.dns_zone_name || endswith(var.host, ".${local.dns_zone_name}")
      error_message = "host ${var.host} is not inside the DNS zone ${local.dns_zone_name} (dns_zone): pick a host under it, or leave dns_zone empty and create the A record yourself."
    }
  }
}

# cert-manager (installed by the example) proves control of host to Let's Encrypt with a TXT record in
# the zone: its service account federates to this identity, which may change that zone only.
resource "azurerm_user_assigned_identity" "cert_manager" {
  count = var.dns_zone == "" ? 0 : 1

  name                = "${var.name}-cert-manager"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_role_assignment" "cert_manager_dns" {
  count = var.dns_zone == "" ? 0 : 1

  scope                = var.dns_zone
  role_definition_name = "DNS Zone Contributor"
  principal_id         = azurerm_user_assigned_identity.cert_manager[0].principal_id
}

resource "azurerm_federated_identity_credential" "cert_manager" {
  count = var.dns_zone == "" ? 0 : 1

  name                = "${var.name}-cert-manager"
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.cert_manager[0].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:cert-manager:cert-manager"
}
