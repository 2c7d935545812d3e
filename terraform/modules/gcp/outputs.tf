output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "cluster_endpoint" {
  description = "URL of the cluster's API server (for the kubernetes and helm providers)."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, PEM (for the kubernetes and helm providers)."
  value       = base64decode(google_container_cluster.this.master_auth[0].cluster_ca_certificate)
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.this.name} --region ${var.region} --project ${var.project_id}"
}

output "namespace" {
  description = "Kubernetes namespace Workload Identity binds."
  value       = var.namespace
}

output "prefix" {
  description = "Prefix of the release's objects (the chart's fullnameOverride and service account name)."
  value       = module.naming.prefix
}

output "workload_identity" {
  description = "E-mail of the Google service account the release's service account acts as."
  value       = google_service_account.workload.email
}

output "task_logs_url" {
  description = "logging.remote of the platform: gs://bucket/prefix."
  value       = "gs://${google_storage_bucket.task_logs.name}/${var.task_logs_prefix}"
}

output "task_logs_bucket" {
  description = "Name of the task log bucket."
  value       = google_storage_bucket.task_logs.name
}

output "database_address" {
  description = "Private IP address of PostgreSQL."
  value       = google_sql_database_instance.this.private_ip_address
}

output "database_cidrs" {
  description = "CIDR block PostgreSQL and Redis get their addresses from (the NetworkPolicy egress peers)."
  value       = ["${google_compute_global_address.services.address}/${google_compute_global_address.services.prefix_length}"]
}

output "broker_port" {
  description = "TCP port of Redis (6378 with TLS on Memorystore)."
  value       = google_redis_instance.this.port
}

output "secret_names" {
  description = "Name of each platform secret in Secret Manager, by the chart's key."
  value       = module.naming.secret_names
}

output "platform_secrets" {
  description = "Value of each platform secret, by the chart's key (for the Kubernetes Secrets of the airdeck module)."
  value       = local.platform_secrets
  sensitive   = true
}

output "admin_password_command" {
  description = "Command that prints the admin account's password."
  value       = "gcloud secrets versions access latest --secret ${module.naming.secret_names["adminPassword"]} --project ${var.project_id}"
}

output "network_id" {
  description = "ID of the VPC network."
  value       = google_compute_network.this.id
}

output "ui_url" {
  description = "URL of the UI: https://<host>."
  value       = "https://${var.host}"
}

output "gateway" {
  description = "What the example's Gateway needs: the reserved address's name, the certificate map, the Cloud Armor policy, the gateway class."
  value = {
    class_name      = "gke-l7-global-external-managed"
    address_name    = google_compute_global_address.ui.name
    certificate_map = google_certificate_manager_certificate_map.ui.name
    security_policy = google_compute_security_policy.ui.name
  }
}

output "load_balancer_cidrs" {
  description = "Source ranges of the load balancer's proxies and health checks: the chart's networkPolicies.sourceCIDRs."
  value       = local.load_balancer_cidrs
}

output "ui_address" {
  description = "IPv4 address of the UI's load balancer."
  value       = google_compute_global_address.ui.address
}

output "dns_records" {
  description = "The DNS records the UI needs (the host's A record and the certificate's DNS authorization CNAME): created in dns_zone, or yours to create when dns_zone is empty."
  value       = local.dns_records
}

output "registry_url" {
  description = "Artifact Registry repository for your image (REGION-docker.pkg.dev/PROJECT/REPOSITORY); empty unless create_registry."
  value       = local.registry_url
}

output "image_push_commands" {
  description = "Commands that build the image and push it to the created registry; empty unless create_registry."
  value       = var.create_registry ? "gcloud auth configure-docker ${local.registry_host} && scripts/image ${local.registry_url}/airdeck" : ""
}
