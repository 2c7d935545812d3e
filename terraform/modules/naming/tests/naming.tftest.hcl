variables {
  name   = "airdeck"
  cloud  = "aws"
  suffix = "a1b2c3"
}

run "aws_names" {
  command = apply

  assert {
    condition     = output.bucket == "airdeck-task-logs-a1b2c3"
    error_message = "the AWS bucket is <name>-task-logs-<suffix>"
  }

  assert {
    condition     = output.secret_names["fernetKey"] == "airdeck/fernet-key" && length(output.secret_names) == 8
    error_message = "AWS secrets are <name>/<secret>, eight of them"
  }

  assert {
    condition     = output.storage_account == "" && output.key_vault == ""
    error_message = "Azure-only names are empty on AWS"
  }

  assert {
    condition     = output.workload_identity == "airdeck-workload" && output.namespace == "airflow"
    error_message = "identity and namespace names"
  }

  assert {
    condition = output.task_log_service_accounts == {
      apiServer  = "airdeck-api-server"
      triggerer  = "airdeck-triggerer"
      workers    = "airdeck-worker"
      migrations = "airdeck-migrate"
    }
    error_message = "the chart's accounts of the components that use the task log bucket, and no other"
  }
}

run "azure_names_fit_their_limits" {
  command = apply

  variables {
    cloud  = "azure"
    name   = "a-very-long-name"
    suffix = "deadbeef"
  }

  assert {
    condition     = can(regex("^[a-z0-9]{3,24}$", output.storage_account))
    error_message = "storage account names are 3-24 lowercase letters and digits (got ${output.storage_account})"
  }

  assert {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", output.key_vault)) && !strcontains(output.key_vault, "--")
    error_message = "Key Vault names are 3-24 letters, digits and single hyphens (got ${output.key_vault})"
  }

  assert {
    condition     = output.bucket == "task-logs" && output.secret_names["databaseUrl"] == "a-very-long-name-database-url"
    error_message = "Azure: a container named task-logs, secrets <name>-<secret>"
  }
}

run "gcp_service_account_id_fits" {
  command = apply

  variables {
    cloud = "gcp"
    name  = "a-very-long-name"
  }

  assert {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", output.workload_identity))
    error_message = "GCP service account ids are 6-30 characters (got ${output.workload_identity})"
  }
}

run "name_with_uppercase_is_refused" {
  command = plan
  variables {
    name = "AirDeck"
  }
  expect_failures = [var.name]
}

run "name_too_long_is_refused" {
  command = plan
  variables {
    name = "a-name-of-twenty-chars"
  }
  expect_failures = [var.name]
}

run "unknown_cloud_is_refused" {
  command = plan
  variables {
    cloud = "oci"
  }
  expect_failures = [var.cloud]
}

run "short_suffix_is_refused" {
  command = plan
  variables {
    suffix = "ab"
  }
  expect_failures = [var.suffix]
}

run "bad_namespace_is_refused" {
  command = plan
  variables {
    namespace = "Airflow_NS"
  }
  expect_failures = [var.namespace]
}
