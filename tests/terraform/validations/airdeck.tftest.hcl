# Every validation of terraform/modules/airdeck/variables.tf refuses a bad value (run by
# tests/terraform/test_terraform.py against a copy of that file: the module itself needs providers).

variables {
  cloud             = "aws"
  prefix            = "airdeck"
  task_logs_url     = "s3://airdeck-task-logs-a1b2c3/airflow/logs"
  workload_identity = "arn:aws:iam::123456789012:role/airdeck-workload"
  database_cidrs    = ["10.0.0.0/20"]
  platform_secrets = {
    fernetKey     = "k"
    jwtSecret     = "j"
    jwtPrivateKey = "s"
    apiSecretKey  = "a"
    logFetchKey   = "l"
    adminPassword = "p"
    databaseUrl   = "postgresql+psycopg://airflow:p@db:5432/airflow"
    brokerUrl     = "rediss://:p@cache:6379/0"
  }
}

run "valid_inputs_plan" {
  command = plan
}

run "bad_cloud_is_refused" {
  command = plan
  variables {
    cloud = "oci"
  }
  expect_failures = [var.cloud]
}

run "bad_prefix_is_refused" {
  command = plan
  variables {
    prefix = "-airdeck"
  }
  expect_failures = [var.prefix]
}

run "bad_namespace_is_refused" {
  command = plan
  variables {
    namespace = "Airflow"
  }
  expect_failures = [var.namespace]
}

run "bad_platform_secrets_is_refused" {
  command = plan
  variables {
    platform_secrets = { fernetKey = "k" }
  }
  expect_failures = [var.platform_secrets]
}

run "bad_kube_prometheus_stack_version_is_refused" {
  command = plan
  variables {
    kube_prometheus_stack_version = "latest"
  }
  expect_failures = [var.kube_prometheus_stack_version]
}

run "bad_keda_version_is_refused" {
  command = plan
  variables {
    keda_version = "v2"
  }
  expect_failures = [var.keda_version]
}

run "bad_timeout_is_refused" {
  command = plan
  variables {
    timeout = 60
  }
  expect_failures = [var.timeout]
}

run "bad_ingress_allowed_from_is_refused" {
  command = plan
  variables {
    ingress = { host = "airflow.example.com", allowed_from = ["my-office"] }
  }
  expect_failures = [var.ingress]
}

run "empty_ingress_controller_labels_are_refused" {
  command = plan
  variables {
    ingress = { host = "airflow.example.com", controller = { namespace = "app-routing-system", pod_labels = {} } }
  }
  expect_failures = [var.ingress]
}

run "bad_grafana_is_refused" {
  command = plan
  variables {
    grafana = { host = "https://grafana.example.com" }
  }
  expect_failures = [var.grafana]
}

run "configured_inputs_plan" {
  command = plan
  variables {
    ldap = {
      url              = "ldaps://ldap.example.com:636"
      bind_dn          = "cn=svc,dc=example,dc=com"
      bind_password    = "pw"
      user_search_base = "ou=people,dc=example,dc=com"
      ca_pem           = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    }
    roles = { version = 1, roles = { Reader = { permissions = ["can_read on DAGs"] } } }
    alert_channels = {
      ops  = { type = "slack", webhook_url = "https://hooks.slack.com/services/T/B/X" }
      mail = { type = "email", to = ["a@example.com"], smtp = { host = "smtp.example.com" } }
    }
  }
}

run "ldap_url_without_ldap_scheme_is_refused" {
  command = plan
  variables {
    ldap = { url = "https://ldap.example.com", user_dn_template = "uid={username},dc=example,dc=com" }
  }
  expect_failures = [var.ldap]
}

run "ldap_with_both_bind_modes_is_refused" {
  command = plan
  variables {
    ldap = { url = "ldaps://ldap.example.com", user_dn_template = "uid={username},dc=x", bind_dn = "cn=svc,dc=x", bind_password = "p", user_search_base = "dc=x" }
  }
  expect_failures = [var.ldap]
}

run "ldap_bind_dn_without_password_is_refused" {
  command = plan
  variables {
    ldap = { url = "ldaps://ldap.example.com", bind_dn = "cn=svc,dc=x", user_search_base = "dc=x" }
  }
  expect_failures = [var.ldap]
}

run "ldap_ca_that_is_no_certificate_is_refused" {
  command = plan
  variables {
    ldap = { url = "ldaps://ldap.example.com", user_dn_template = "uid={username},dc=x", ca_pem = "ldap-ca.pem" }
  }
  expect_failures = [var.ldap]
}

run "roles_without_version_is_refused" {
  command = plan
  variables {
    roles = { roles = { Reader = { permissions = ["can_read on DAGs"] } } }
  }
  expect_failures = [var.roles]
}

run "alert_channel_name_not_a_dns_label_is_refused" {
  command = plan
  variables {
    alert_channels = { "Ops_Team" = { type = "slack", webhook_url = "https://hooks.slack.com/services/T/B/X" } }
  }
  expect_failures = [var.alert_channels]
}

run "alert_channel_of_unknown_type_is_refused" {
  command = plan
  variables {
    alert_channels = { ops = { type = "pagerduty" } }
  }
  expect_failures = [var.alert_channels]
}

run "slack_channel_without_https_webhook_is_refused" {
  command = plan
  variables {
    alert_channels = { ops = { type = "slack", webhook_url = "http://hooks.slack.com/services/T/B/X" } }
  }
  expect_failures = [var.alert_channels]
}

run "email_channel_without_recipients_is_refused" {
  command = plan
  variables {
    alert_channels = { mail = { type = "email", smtp = { host = "smtp.example.com" } } }
  }
  expect_failures = [var.alert_channels]
}
