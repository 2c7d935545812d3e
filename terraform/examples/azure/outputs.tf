output "ui_url" {
  description = "URL of the UI (with dns_zone, the certificate is issued a minute or two after the apply)."
  value       = module.azure.ui_url
}

output "ui_address" {
  description = "Public address of the UI's load balancer: without dns_zone, point host's A record at it."
  value       = module.azure.ui_address
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
  description = "Command that writes a kubeconfig entry for the cluster (then kubelogin convert-kubeconfig -l azurecli)."
  value       = module.azure.kubeconfig_command
}

output "task_logs_url" {
  description = "Where task logs go."
  value       = module.azure.task_logs_url
}

output "tls_secret_command" {
  description = "Without dns_zone: the command that puts your certificate for host into the Ingress's TLS Secret."
  value       = "kubectl -n ${module.airdeck.namespace} create secret tls ${module.azure.prefix}-tls --cert host.crt --key host.key"
}

output "registry_url" {
  description = "Login server of the created Azure Container Registry; empty unless create_registry."
  value       = module.azure.registry_url
}

output "image_push_commands" {
  description = "Commands that build and push your image to registry_url; empty unless create_registry."
  value       = module.azure.image_push_commands
}

output "grafana_url" {
  description = "Grafana with the airdeck dashboards: its URL, or the port-forward command that opens it."
  value       = module.airdeck.grafana_url
}

output "grafana_admin_password_command" {
  description = "Command that prints the password of Grafana's admin account (user admin)."
  value       = module.airdeck.grafana_admin_password_command
}
