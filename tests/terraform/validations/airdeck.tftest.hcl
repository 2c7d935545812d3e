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
