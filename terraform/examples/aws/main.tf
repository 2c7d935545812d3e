data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only used when availability_zones is empty, and then only the first three names in sorted order, which a zone AWS adds later (a new letter) does not change; pass availability_zones to pin them.
  state = "available"
}

module "aws" {
  source = "../../modules/aws"

  name                = var.name
  availability_zones  = length(var.availability_zones) > 0 ? var.availability_zones : slice(sort(data.aws_availability_zones.available.names), 0, 3)
  operator_cidrs      = var.operator_cidrs
  host                = var.host
  dns_zone            = var.dns_zone
  deletion_protection = var.deletion_protection
  single_nat_gateway  = var.single_nat_gateway
  node_instance_type  = var.node_instance_type
  node_min_count      = var.node_min_count
  node_max_count      = var.node_max_count
  db_instance_class   = var.db_instance_class
  cache_node_type     = var.cache_node_type
  cluster_admins      = var.cluster_admins
  create_registry     = var.create_registry
  tags                = { project = "airdeck" }
}

locals {
  backend_protocol = try(var.airdeck.tls.enabled, false) ? "HTTPS" : "HTTP"
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

  # The AWS Load Balancer Controller (installed by module.aws) makes an ALB for this Ingress: HTTPS
  # only with the ACM certificate, open to operator_cidrs only (its security group), sending to the
  # api-server pods' IPs, which the chart's NetworkPolicy admits from the VPC's range.
  ingress = {
    host         = var.host
    class_name   = "alb"
    allowed_from = [module.aws.vpc_cidr]
    annotations = {
      "alb.ingress.kubernetes.io/scheme"                   = var.internal_load_balancer ? "internal" : "internet-facing"
      "alb.ingress.kubernetes.io/target-type"              = "ip"
      "alb.ingress.kubernetes.io/listen-ports"             = "[{\"HTTPS\":443}]"
      "alb.ingress.kubernetes.io/certificate-arn"          = module.aws.certificate_arn
      "alb.ingress.kubernetes.io/ssl-policy"               = "ELBSecurityPolicy-TLS13-1-2-2021-06"
      "alb.ingress.kubernetes.io/inbound-cidrs"            = join(",", var.operator_cidrs)
      "alb.ingress.kubernetes.io/backend-protocol"         = local.backend_protocol
      "alb.ingress.kubernetes.io/healthcheck-protocol"     = local.backend_protocol
      "alb.ingress.kubernetes.io/healthcheck-path"         = "/api/v2/monitor/health"
      "alb.ingress.kubernetes.io/load-balancer-attributes" = "routing.http.drop_invalid_header_fields.enabled=true"
    }
  }

  # Created after everything of module.aws, so destroyed before it: the release (and its Ingress) goes
  # while the Load Balancer Controller still runs and deletes the ALB, its target groups and security
  # groups; only then are the controller, the nodes and the VPC removed (nothing blocks the VPC).
  depends_on = [module.aws]
}

# With dns_zone: host points at the ALB the controller made for the Ingress (found by the tags the
# controller puts on it) once the release is installed.
data "aws_lb" "ui" {
  count = var.dns_zone != "" ? 1 : 0

  tags = {
    "elbv2.k8s.aws/cluster" = module.aws.cluster_name
    "ingress.k8s.aws/stack" = "${module.airdeck.namespace}/${module.aws.prefix}-api-server"
  }

  depends_on = [module.airdeck]
}

resource "aws_route53_record" "ui" {
  count = var.dns_zone != "" ? 1 : 0

  zone_id = module.aws.dns_zone_id
  name    = var.host
  type    = "A"

  alias {
    name                   = data.aws_lb.ui[0].dns_name
    zone_id                = data.aws_lb.ui[0].zone_id
    evaluate_target_health = true
  }
}
