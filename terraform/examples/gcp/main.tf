module "gcp" {
  source = "../../modules/gcp"

  project_id = var.project_id
  region     = var.region
  name       = var.name
}

module "airdeck" {
  source = "../../modules/airdeck"

  cloud             = "gcp"
  prefix            = module.gcp.prefix
  namespace         = module.gcp.namespace
  airdeck           = var.airdeck
  platform_secrets  = module.gcp.platform_secrets
  task_logs_url     = module.gcp.task_logs_url
  workload_identity = module.gcp.workload_identity
  database_cidrs    = module.gcp.database_cidrs
  broker_port       = module.gcp.broker_port
  image             = var.image

  # GKE's internal Application Load Balancer; the TLS Secret (airdeck-tls) is yours or cert-manager's.
  ingress = {
    host       = var.host
    class_name = "gce-internal"
    # Google's load balancer health checks come from these ranges.
    allowed_from = ["35.191.0.0/16", "130.211.0.0/22"]
  }
}
