################################################################################
# Names of every object, per cloud (pure: no provider)
################################################################################

locals {
  compact = replace(var.name, "-", "")

  # The platform's secrets: key in the chart's `secrets` values => secret name in the cloud's store.
  secret_keys = {
    fernetKey     = "fernet-key"
    jwtSecret     = "jwt-secret"
    jwtPrivateKey = "jwt-private-key"
    logFetchKey   = "log-fetch-key"
    apiSecretKey  = "api-secret-key"
    adminPassword = "admin-password"
    databaseUrl   = "database-url"
    brokerUrl     = "broker-url"
  }

  # AWS Secrets Manager allows "/", GCP Secret Manager and Key Vault only letters, digits, "-" (and "_").
  secret_names = {
    for key, id in local.secret_keys : key => (
      var.cloud == "aws" ? "${var.name}/${id}" : "${var.name}-${id}"
    )
  }

  # Buckets: 3-63 characters, globally unique. Storage accounts: 3-24 lowercase letters and digits.
  # Key Vaults: 3-24 letters, digits and hyphens, globally unique.
  bucket          = "${var.name}-task-logs-${var.suffix}"
  storage_account = "${substr(local.compact, 0, 24 - length(var.suffix) - 2)}tl${var.suffix}"
  key_vault       = "${trimsuffix(substr(var.name, 0, 24 - length(var.suffix) - 4), "-")}-kv-${var.suffix}"

  # The chart's own ServiceAccount of each component that uses the task log bucket (<prefix>-<component>).
  task_log_service_accounts = {
    apiServer  = "${var.name}-api-server"
    triggerer  = "${var.name}-triggerer"
    workers    = "${var.name}-worker"
    migrations = "${var.name}-migrate"
  }

  # GCP service account ids: 6-30 characters.
  gcp_service_account_id = "${substr(var.name, 0, 21)}-workload"
}
