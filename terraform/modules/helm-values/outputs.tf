output "values" {
  description = "The airdeck chart's values, as an object."
  value       = local.values
}

output "values_yaml" {
  description = "The airdeck chart's values as YAML, for helm_release.values."
  value       = yamlencode(local.values)
}

output "ui_url" {
  description = "URL of the UI: https://<ingress.host>, or empty without an Ingress."
  value       = var.ingress == null ? "" : "https://${var.ingress.host}"
}

output "service_account" {
  description = "Name of the Kubernetes service account the pods run as (bound to the workload identity)."
  value       = var.prefix
}

output "kubernetes_secrets" {
  description = "The Kubernetes Secrets the release mounts, by the chart's key: name of the Secret and key inside it."
  value       = { for key, secret in local.secrets : key => { name = secret.existingSecret, key = secret.key } }
}
