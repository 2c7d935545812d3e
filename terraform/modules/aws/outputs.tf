output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "URL of the cluster's API server (for the kubernetes and helm providers)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM (for the kubernetes and helm providers)."
  value       = base64decode(aws_eks_cluster.this.certificate_authority[0].data)
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${local.region} --name ${aws_eks_cluster.this.name}"
}

output "region" {
  description = "AWS region of everything."
  value       = local.region
}

output "namespace" {
  description = "Kubernetes namespace the workload role trusts."
  value       = var.namespace
}

output "prefix" {
  description = "Prefix of the release's objects (the chart's fullnameOverride and service account name)."
  value       = module.naming.prefix
}

output "workload_identity" {
  description = "ARN of the IAM role the release's service account assumes (IRSA)."
  value       = aws_iam_role.workload.arn
}

output "task_logs_url" {
  description = "logging.remote of the platform: s3://bucket/prefix."
  value       = "s3://${aws_s3_bucket.task_logs.id}/${var.task_logs_prefix}"
}

output "task_logs_bucket" {
  description = "Name of the task log bucket."
  value       = aws_s3_bucket.task_logs.id
}

output "database_address" {
  description = "Host name of PostgreSQL (private)."
  value       = aws_db_instance.this.address
}

output "vpc_cidr" {
  description = "CIDR block of the VPC: the ALB (IP targets) reaches the pods from its addresses in it (the chart's networkPolicies.sourceCIDRs)."
  value       = aws_vpc.this.cidr_block
}

output "database_cidrs" {
  description = "CIDR blocks PostgreSQL and Redis live in (the NetworkPolicy egress peers)."
  value       = aws_subnet.private[*].cidr_block
}

output "broker_port" {
  description = "TCP port of Redis."
  value       = 6379
}

output "secret_names" {
  description = "Name of each platform secret in Secrets Manager, by the chart's key."
  value       = module.naming.secret_names
}

output "platform_secrets" {
  description = "Value of each platform secret, by the chart's key (for the Kubernetes Secrets of the airdeck module)."
  value       = local.platform_secrets
  sensitive   = true
}

output "admin_password_command" {
  description = "Command that prints the admin account's password."
  value       = "aws secretsmanager get-secret-value --region ${local.region} --secret-id ${module.naming.secret_names["adminPassword"]} --query SecretString --output text"
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets."
  value       = aws_subnet.private[*].id
}

output "certificate_arn" {
  description = "ARN of the UI's ACM certificate (validated when dns_zone is given), for the ALB's HTTPS listener; empty without host."
  value       = var.host == "" ? "" : var.dns_zone != "" ? aws_acm_certificate_validation.ui[0].certificate_arn : aws_acm_certificate.ui[0].arn
}

output "certificate_validation_records" {
  description = "Without dns_zone: the DNS record (name, type, value) to create in host's zone so ACM issues the certificate. Empty with dns_zone (the module creates it)."
  value = var.host == "" || var.dns_zone != "" ? [] : [
    for option in aws_acm_certificate.ui[0].domain_validation_options : {
      name = option.resource_record_name, type = option.resource_record_type, value = option.resource_record_value
    }
  ]
}

output "dns_zone_id" {
  description = "ID of the Route 53 hosted zone dns_zone; empty without it."
  value       = var.dns_zone == "" ? "" : data.aws_route53_zone.this[0].zone_id
}

output "registry_url" {
  description = "URL of the ECR repository for your own image (create_registry); empty otherwise."
  value       = var.create_registry ? aws_ecr_repository.airdeck[0].repository_url : ""
}

output "image_push_commands" {
  description = "Commands that build the multi-arch image and push it to the ECR repository (create_registry); empty otherwise."
  value = var.create_registry ? join("\n", [
    "aws ecr get-login-password --region ${local.region} | docker login --username AWS --password-stdin ${split("/", aws_ecr_repository.airdeck[0].repository_url)[0]}",
    "scripts/image ${aws_ecr_repository.airdeck[0].repository_url}  # tag: the chart's appVersion (immutable: a new version, a new tag)",
  ]) : ""
}

output "controllers" {
  description = "The in-cluster controllers the module installed (Helm release => chart version): the airdeck release depends on them, and is destroyed before them."
  value = {
    (helm_release.load_balancer_controller.name) = helm_release.load_balancer_controller.version
    (helm_release.cluster_autoscaler.name)       = helm_release.cluster_autoscaler.version
  }
}
