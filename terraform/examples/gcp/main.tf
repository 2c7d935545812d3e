module "gcp" {
  source = "../../modules/gcp"

  project_id           = var.project_id
  region               = var.region
  name                 = var.name
  operator_cidrs       = var.operator_cidrs
  host                 = var.host
  dns_zone             = var.dns_zone
  deletion_protection  = var.deletion_protection
  node_min_count       = var.node_min_count
  node_max_count       = var.node_max_count
  node_machine_type    = var.node_machine_type
  db_tier              = var.db_tier
  cache_memory_size_gb = var.cache_memory_size_gb
  cluster_admins       = var.cluster_admins
  create_registry      = var.create_registry
}

locals {
  gateway_name = "${module.gcp.prefix}-ui"
  # The UI's public URL (the module fills api_server.base_url only behind an Ingress).
  airdeck = merge(var.airdeck, {
    api_server = merge({ base_url = module.gcp.ui_url }, try(var.airdeck.api_server, {}))
  })
}

module "airdeck" {
  source = "../../modules/airdeck"

  cloud             = "gcp"
  prefix            = module.gcp.prefix
  namespace         = module.gcp.namespace
  airdeck           = local.airdeck
  platform_secrets  = module.gcp.platform_secrets
  task_logs_url     = module.gcp.task_logs_url
  workload_identity = module.gcp.workload_identity
  database_cidrs    = module.gcp.database_cidrs
  broker_port       = module.gcp.broker_port
  image             = var.image

  # The UI behind the Gateway below: the chart's HTTPRoute attaches to it, and its NetworkPolicy admits
  # the load balancer's proxies and health checks (Cloud Armor admits operator_cidrs before them).
  extra_values = {
    httpRoute = {
      enabled    = true
      parentRefs = [{ name = local.gateway_name }]
      hostnames  = [var.host]
    }
    networkPolicies = {
      sourceCIDRs = module.gcp.load_balancer_cidrs
    }
  }
}

# The Gateway (global external Application Load Balancer on the reserved address, the Certificate
# Manager map's certificate), Cloud Armor on the api-server's backend and its health check.
resource "helm_release" "gateway" {
  name      = local.gateway_name
  chart     = "${path.module}/gateway"
  namespace = module.airdeck.namespace
  # Uninstall waits for the Gateway's finalizer: GKE removes the load balancer before the cluster goes.
  wait    = true
  timeout = 900

  values = [yamlencode({
    name            = local.gateway_name
    className       = module.gcp.gateway.class_name
    addressName     = module.gcp.gateway.address_name
    certificateMap  = module.gcp.gateway.certificate_map
    securityPolicy  = module.gcp.gateway.security_policy
    service         = "${module.gcp.prefix}-api-server"
    healthCheckPort = 8080
  })]
}
