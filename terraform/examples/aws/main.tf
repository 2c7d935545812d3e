module "aws" {
  source = "../../modules/aws"

  name                         = var.name
  availability_zones           = var.availability_zones
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  tags                         = { project = "airdeck" }
}

module "airdeck" {
  source = "../../modules/airdeck"

  cloud             = "aws"
  prefix            = module.aws.prefix
  namespace         = module.aws.namespace
  airdeck           = var.airdeck
  platform_secrets  = module.aws.platform_secrets
  task_logs_url     = module.aws.task_logs_url
  workload_identity = module.aws.workload_identity
  database_cidrs    = module.aws.database_cidrs
  broker_port       = module.aws.broker_port
  image             = var.image
  enable_keda       = true

  # The AWS Load Balancer Controller (installed separately) terminates TLS with the ACM certificate.
  ingress = {
    host       = var.host
    class_name = "alb"
    annotations = {
      "alb.ingress.kubernetes.io/scheme"          = "internal"
      "alb.ingress.kubernetes.io/target-type"     = "ip"
      "alb.ingress.kubernetes.io/listen-ports"    = "[{\"HTTPS\":443}]"
      "alb.ingress.kubernetes.io/certificate-arn" = var.certificate_arn
    }
  }
}
