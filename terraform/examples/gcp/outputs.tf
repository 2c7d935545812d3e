output "ui_url" {
  description = "URL of the UI (the certificate is active a few minutes after the DNS records exist)."
  value       = module.gcp.ui_url
}

output "admin_username" {
  description = "Login name of the admin account."
  value       = module.airdeck.admin_username
}

output "admin_password_command" {
  description = "Command that prints the admin account's password (Secret Manager)."
  value       = module.gcp.admin_password_command
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = module.gcp.kubeconfig_command
}

output "task_logs_url" {
  description = "Where task logs go."
  value       = module.gcp.task_logs_url
}

output "dns_records" {
  description = "The DNS records the UI needs (created when dns_zone is given; otherwise create them in your DNS)."
  value       = module.gcp.dns_records
}

output "registry_url" {
  description = "Artifact Registry repository for your own image; empty unless create_registry."
  value       = module.gcp.registry_url
}

output "image_push_commands" {
  description = "Commands that build and push your image to registry_url; empty unless create_registry."
  value       = module.gcp.image_push_commands
}

output "grafana_url" {
  description = "Grafana with the airdeck dashboards: its URL, or the port-forward command that opens it."
  value       = module.airdeck.grafana_url
}

output "grafana_admin_password_command" {
  description = "Command that prints the password of Grafana's admin account (user admin)."
  value       = module.airdeck.grafana_admin_password_command
}
