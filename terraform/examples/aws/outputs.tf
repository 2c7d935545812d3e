output "ui_url" {
  description = "URL of the UI (sign in as admin_username with the password admin_password_command prints)."
  value       = module.airdeck.ui_url
}

output "admin_username" {
  description = "Login name of the admin account."
  value       = module.airdeck.admin_username
}

output "admin_password_command" {
  description = "Command that prints the admin account's password (Secrets Manager)."
  value       = module.aws.admin_password_command
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = module.aws.kubeconfig_command
}

output "registry_url" {
  description = "URL of the ECR repository for your own image (create_registry); empty otherwise."
  value       = module.aws.registry_url
}

output "image_push_commands" {
  description = "Commands that log in to the ECR repository and build and push the image there (create_registry); empty otherwise."
  value       = module.aws.image_push_commands
}

output "dns_records_to_create" {
  description = "Without dns_zone: the DNS records to create yourself in host's zone (the certificate's validation record, and host pointing at the ALB). Empty with dns_zone."
  value = var.dns_zone != "" ? [] : concat(module.aws.certificate_validation_records, [{
    name  = var.host
    type  = "CNAME"
    value = "the ALB's name, printed by: kubectl -n ${module.airdeck.namespace} get ingress ${module.aws.prefix}-api-server -o jsonpath='{.status.loadBalancer.ingress[0].hostname}'"
  }])
}

output "task_logs_url" {
  description = "Where task logs go."
  value       = module.aws.task_logs_url
}

output "grafana_url" {
  description = "Grafana with the airdeck dashboards: its URL, or the port-forward command that opens it."
  value       = module.airdeck.grafana_url
}

output "grafana_admin_password_command" {
  description = "Command that prints the password of Grafana's admin account (user admin)."
  value       = module.airdeck.grafana_admin_password_command
}
