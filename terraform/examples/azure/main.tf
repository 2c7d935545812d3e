module "azure" {
  source = "../../modules/azure"

  name                = var.name
  location            = var.location
  operator_cidrs      = var.operator_cidrs
  host                = var.host
  dns_zone            = var.dns_zone
  deletion_protection = var.deletion_protection
  cluster_admins      = var.cluster_admins
  node_min_count      = var.node_min_count
  node_max_count      = var.node_max_count
  node_vm_size        = var.node_vm_size
  db_sku_name         = var.db_sku_name
  cache_sku_name      = var.cache_sku_name
  cache_capacity      = var.cache_capacity
  create_registry     = var.create_registry
  tags                = { project = "airdeck" }
}

locals {
  issuer = "letsencrypt-${var.name}"
}

# cert-manager, for the Let's Encrypt certificate of host (DNS-01 in dns_zone, as the federated identity).
resource "helm_release" "cert_manager" {
  count = var.dns_zone == "" ? 0 : 1

  name             = "cert-manager"
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = "v1.17.2"
  namespace        = "cert-manager"
  create_namespace = true
  wait             = true

  values = [yamlencode({
    crds           = { enabled = true }
    podLabels      = { "azure.workload.identity/use" = "true" }
    serviceAccount = { name = "cert-manager", labels = { "azure.workload.identity/use" = "true" } }
  })]
}

# The application routing add-on's NGINX for this release (its load balancer on the reserved address,
# admitting operator_cidrs only) and, with dns_zone, the ClusterIssuer.
resource "helm_release" "ingress" {
  name  = "${module.azure.prefix}-ingress"
  chart = "${path.module}/ingress"
  # Its objects are cluster-scoped; the release's record lives in the airdeck namespace (which exists
  # before the add-on may have made app-routing-system).
  namespace = module.airdeck.namespace
  wait      = true

  values = [yamlencode({
    controller = {
      name          = module.azure.ingress.controller_name
      publicIpName  = module.azure.ingress.public_ip_name
      resourceGroup = module.azure.ingress.resource_group
      allowedRanges = module.azure.ingress.allowed_ranges
    }
    issuer = module.azure.cert_manager == null ? { enabled = false } : merge(module.azure.cert_manager, {
      enabled = true
      name    = local.issuer
      email   = var.acme_email
    })
  })]

  depends_on = [helm_release.cert_manager]
}

module "airdeck" {
  source = "../../modules/airdeck"

  cloud             = "azure"
  prefix            = module.azure.prefix
  namespace         = module.azure.namespace
  airdeck           = var.airdeck
  platform_secrets  = module.azure.platform_secrets
  task_logs_url     = module.azure.task_logs_url
  workload_identity = module.azure.workload_identity
  database_cidrs    = module.azure.database_cidrs
  broker_port       = module.azure.broker_port
  image             = var.image

  # The Ingress of the NGINX above; cert-manager fills the TLS Secret when dns_zone is given.
  ingress = {
    host            = var.host
    class_name      = module.azure.ingress.controller_name
    tls_secret_name = "${module.azure.prefix}-tls"
    annotations     = var.dns_zone == "" ? {} : { "cert-manager.io/cluster-issuer" = local.issuer }
    # The chart's NetworkPolicy admits the add-on's NGINX pods: every controller the application routing
    # operator runs (the default one and an NginxIngressController like ours) carries these labels.
    controller = {
      namespace = "app-routing-system"
      pod_labels = {
        "app.kubernetes.io/managed-by" = "aks-app-routing-operator"
        "app.kubernetes.io/component"  = "ingress-controller"
      }
    }
  }
}
