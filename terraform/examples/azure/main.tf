module "azure" {
  source = "../../modules/azure"

  name                        = var.name
  location                    = var.location
  admin_group_object_ids      = var.admin_group_object_ids
  key_vault_allowed_ip_ranges = var.key_vault_allowed_ip_ranges
  tags                        = { project = "airdeck" }
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

  # The application routing add-on (managed NGINX); the TLS Secret (airdeck-tls) is yours or cert-manager's.
  ingress = {
    host       = var.host
    class_name = "webapprouting.kubernetes.azure.com"
    # The add-on's NGINX pods forward to the api-server.
    controller = { namespace = "app-routing-system", pod_labels = { app = "nginx" } }
  }
}
