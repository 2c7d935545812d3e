output "release_name" {
  description = "Name of the airdeck Helm release."
  value       = helm_release.airdeck.name
}

output "namespace" {
  description = "Namespace of the release."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "values" {
  description = "The values the release was installed with. Sensitive: they carry the `airdeck` and `extra_values` inputs, where a secret may have been put by mistake (show with `terraform output -json values`)."
  value       = module.values.values
  sensitive   = true
}

output "ui_url" {
  description = "URL of the UI: https://<ingress host>, or the port-forward command without an Ingress."
  value       = module.values.ui_url != "" ? module.values.ui_url : "kubectl -n ${var.namespace} port-forward svc/${var.prefix}-api-server 8080:8080, then http://127.0.0.1:8080"
}

output "admin_username" {
  description = "Login name of the admin account."
  value       = nonsensitive(local.admin_name) # a login name, from the sensitive `airdeck` input
}

output "admin_password_command" {
  description = "kubectl command that prints the admin account's password from the release's Secret."
  value       = "kubectl -n ${var.namespace} get secret ${module.values.kubernetes_secrets["adminPassword"].name} -o jsonpath='{.data.password}' | base64 -d"
}

output "grafana_url" {
  description = "Grafana (kube-prometheus-stack): https://<grafana.host>, or the port-forward command without one; null when kube-prometheus-stack is not installed."
  value = !var.enable_kube_prometheus_stack ? null : (
    var.grafana.host != null ? "https://${var.grafana.host}" :
    "kubectl -n ${local.monitoring_namespace} port-forward svc/${local.grafana_service} 3000:80, then http://127.0.0.1:3000"
  )
}

output "grafana_admin_password_command" {
  description = "kubectl command that prints the password of Grafana's admin account (user admin) from its Secret; null when kube-prometheus-stack is not installed."
  value       = var.enable_kube_prometheus_stack ? "kubectl -n ${local.monitoring_namespace} get secret ${local.grafana_admin_secret} -o jsonpath='{.data.admin-password}' | base64 -d" : null
}

output "fernet_key_secret" {
  description = "The Kubernetes Secret holding the Fernet key list (namespace/name). The first apply writes it; after that the cluster Secret is the key's home: `airdeck --target kubernetes --release <release_name> --namespace <namespace> fernet rotate` rotates it and Terraform ignores its key. The cloud's secret store keeps the key of the first apply only."
  value       = "${var.namespace}/${module.values.kubernetes_secrets["fernetKey"].name}"
}
