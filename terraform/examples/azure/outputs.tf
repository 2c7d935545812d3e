output "ui_url" {
  description = "URL of the UI."
  value       = module.airdeck.ui_url
}

output "admin_username" {
  description = "Login name of the admin account."
  value       = module.airdeck.admin_username
}

output "admin_password_command" {
  description = "Command that prints the admin account's password (Key Vault)."
  value       = module.azure.admin_password_command
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = module.azure.kubeconfig_command
}

output "task_logs_url" {
  description = "Where task logs go."
  value       = module.azure.task_logs_url
}

output "grafana_url" {
  description = "Grafana with the airdeck dashboards: its URL, or the port-forward command that opens it."
  value       = module.airdeck.grafana_url
}

output "grafana_admin_password_command" {
  description = "Command that prints the password of Grafana's admin account (user admin)."
  value       = module.airdeck.grafana_admin_password_command
}
