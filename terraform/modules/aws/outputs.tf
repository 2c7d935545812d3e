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
