output "trust_policy_json" {
  description = "Assume-role policy of the workload role: only the release's service accounts given (the components that use the task log bucket), through the cluster's OIDC provider."
  value       = jsonencode(local.trust_policy)
}

output "task_logs_policy_json" {
  description = "Permissions of the workload role: the task log prefix of one bucket and its KMS key through S3, nothing else."
  value       = jsonencode(local.task_logs_policy)
}
