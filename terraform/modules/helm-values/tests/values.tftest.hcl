variables {
  cloud             = "aws"
  prefix            = "airdeck"
  task_logs_url     = "s3://airdeck-task-logs-a1b2c3/airflow/logs"
  workload_identity = "arn:aws:iam::123456789012:role/airdeck-workload"
  database_cidrs    = ["10.0.0.0/20", "10.0.16.0/20"]
  broker_cidrs      = ["10.0.0.0/20"]
  airdeck = {
    workers = { concurrency = 16 }
    logging = { retention = "7d" }
  }
}

run "aws_values" {
  command = apply

  assert {
    condition     = output.values.airdeck.logging.remote == var.task_logs_url && output.values.airdeck.logging.retention == "7d"
    error_message = "logging.remote is the bucket; the user's other logging keys stay"
  }

  assert {
    condition     = !can(output.values.airdeck.logging.connection)
    error_message = "no logging.connection: the ambient identity (IRSA) is used"
  }

  assert {
    condition     = output.values.airdeck.workers.concurrency == 16
    error_message = "the user's airdeck configuration is passed through"
  }

  assert {
    condition = alltrue([for key in ["apiServer", "triggerer", "workers", "migrations"] :
    output.values[key].serviceAccount.annotations == { "eks.amazonaws.com/role-arn" = var.workload_identity }])
    error_message = "IRSA annotation on the service accounts of the components that use the task log bucket"
  }

  assert {
    condition = !can(output.values.serviceAccount) && alltrue([for key in ["scheduler", "dagProcessor", "alertDispatcher", "statsdExporter", "tests"] :
    !can(output.values[key].serviceAccount)])
    error_message = "no identity on the shared account nor on the components that do not use the bucket"
  }

  assert {
    condition = output.service_accounts == {
      apiServer  = "airdeck-api-server"
      triggerer  = "airdeck-triggerer"
      workers    = "airdeck-worker"
      migrations = "airdeck-migrate"
    }
    error_message = "the accounts that carry the identity, as the chart names them"
  }

  assert {
    condition     = output.values.azureWorkloadIdentity == false && output.values.mode == "production"
    error_message = "production mode, no Azure label on AWS"
  }

  assert {
    condition     = output.values.secrets.databaseUrl.existingSecret == "airdeck-database" && output.values.secrets.databaseUrl.key == "url" && output.values.secrets.adminPassword.key == "password" && output.values.secrets.fernetKey.key == "fernet-key"
    error_message = "every platform secret comes from the module's Kubernetes Secrets, with the chart's keys"
  }

  assert {
    condition     = output.kubernetes_secrets.brokerUrl.name == "airdeck-broker" && output.kubernetes_secrets.jwtPrivateKey.key == "jwt-private-key" && length(output.kubernetes_secrets) == 8
    error_message = "the Secrets to create: eight, named <prefix>-<secret>"
  }

  assert {
    condition     = output.kubernetes_secrets.fernetKey.labels == { "app.kubernetes.io/part-of" = "airdeck", "app.kubernetes.io/instance" = "airdeck", "airdeck.io/rotated-by" = "airdeck" } && alltrue([for key, secret in output.kubernetes_secrets : secret.labels == { "app.kubernetes.io/part-of" = "airdeck" } if key != "fernetKey"])
    error_message = "only the Fernet key's Secret is labelled for rotation by the airdeck CLI, with its release"
  }

  assert {
    condition     = output.values.networkPolicies.database.to[1].ipBlock.cidr == "10.0.16.0/20" && output.values.networkPolicies.broker.port == 6379
    error_message = "NetworkPolicy egress only to the database and cache subnets"
  }

  assert {
    condition     = output.values.ingress.enabled == false && output.ui_url == "" && !can(output.values.airdeck.api_server)
    error_message = "no ingress: no public URL"
  }

  assert {
    condition     = output.values.monitoring.serviceMonitor.enabled == false && output.values.workers.hpa.enabled && !output.values.workers.keda.enabled
    error_message = "without the Prometheus Operator and KEDA: no ServiceMonitor, the CPU HPA"
  }

  assert {
    condition     = yamldecode(output.values_yaml).fullnameOverride == "airdeck"
    error_message = "values_yaml is the YAML of values"
  }
}

run "gcp_values_with_ingress_keda_and_prometheus" {
  command = apply

  variables {
    cloud               = "gcp"
    task_logs_url       = "gs://airdeck-task-logs-a1b2c3/airflow/logs"
    workload_identity   = "airdeck-workload@my-project.iam.gserviceaccount.com"
    broker_port         = 6378
    keda_enabled        = true
    prometheus_operator = {}
    ingress             = { host = "airflow.example.com", class_name = "gce-internal" }
  }

  assert {
    condition     = output.values.workers.serviceAccount.annotations["iam.gke.io/gcp-service-account"] == var.workload_identity && output.values.apiServer.serviceAccount.annotations["iam.gke.io/gcp-service-account"] == var.workload_identity
    error_message = "GKE Workload Identity annotation on the task log components' accounts"
  }

  assert {
    condition     = output.values.ingress.enabled && output.values.ingress.host == "airflow.example.com" && output.ui_url == "https://airflow.example.com"
    error_message = "the Ingress and the UI URL"
  }

  assert {
    condition     = output.values.airdeck.api_server.base_url == "https://airflow.example.com"
    error_message = "api_server.base_url follows the Ingress host"
  }

  assert {
    condition     = output.values.workers.keda.enabled && !output.values.workers.hpa.enabled
    error_message = "KEDA replaces the HPA"
  }

  assert {
    condition     = output.values.monitoring.serviceMonitor.labels.release == "kube-prometheus-stack" && output.values.monitoring.prometheusRule.enabled
    error_message = "ServiceMonitor and PrometheusRule labelled for kube-prometheus-stack"
  }
}

run "user_base_url_wins" {
  command = apply

  variables {
    ingress = { host = "airflow.example.com" }
    airdeck = { api_server = { base_url = "https://airflow.internal.example.com/", workers = 4 } }
  }

  assert {
    condition     = output.values.airdeck.api_server.base_url == "https://airflow.internal.example.com/" && output.values.airdeck.api_server.workers == 4
    error_message = "a base_url the user gives is kept"
  }
}

run "azure_values" {
  command = apply

  variables {
    cloud             = "azure"
    task_logs_url     = "wasb://task-logs@airdecktla1b2c3/airflow/logs"
    workload_identity = "00000000-1111-2222-3333-444444444444"
    broker_port       = 6380
  }

  assert {
    condition     = output.values.triggerer.serviceAccount.annotations["azure.workload.identity/client-id"] == var.workload_identity && output.values.migrations.serviceAccount.annotations["azure.workload.identity/client-id"] == var.workload_identity && output.values.azureWorkloadIdentity
    error_message = "Azure Workload Identity: client-id annotation and the pod label"
  }

  assert {
    condition     = output.values.networkPolicies.broker.port == 6380
    error_message = "Azure Cache for Redis TLS port"
  }
}

run "extra_values_merge_deeply" {
  command = apply

  variables {
    keda_enabled = true
    extra_values = {
      apiServer = { replicas = 3 }
      # A nested map merges: the computed database peers, broker and enabled flag survive.
      networkPolicies = {
        database     = { port = 6432 }
        clusterCIDRs = ["10.0.0.0/8"]
        dns          = { nodeLocalDNS = ["169.254.20.10"] }
      }
      # Three levels down: only maxReplicaCount changes; keda.enabled (computed) stays.
      workers = { keda = { maxReplicaCount = 20 } }
      # A scalar where the computed value is a map replaces it.
      monitoring = { serviceMonitor = false }
    }
  }

  assert {
    condition     = output.values.apiServer.replicas == 3 && output.values.fullnameOverride == "airdeck"
    error_message = "a new top-level key is added beside the computed ones"
  }

  assert {
    condition     = output.values.networkPolicies.database.port == 6432 && output.values.networkPolicies.database.to[0].ipBlock.cidr == "10.0.0.0/20" && output.values.networkPolicies.enabled && output.values.networkPolicies.broker.port == 6379
    error_message = "a nested computed key survives an extra value beside it (maps merge)"
  }

  assert {
    condition     = output.values.networkPolicies.clusterCIDRs == ["10.0.0.0/8"] && output.values.networkPolicies.dns.nodeLocalDNS == ["169.254.20.10"]
    error_message = "lists in extra_values replace"
  }

  assert {
    condition     = output.values.workers.keda.maxReplicaCount == 20 && output.values.workers.keda.enabled && !output.values.workers.hpa.enabled
    error_message = "three levels down, the computed keys beside the extra one survive"
  }

  assert {
    condition     = output.values.monitoring.serviceMonitor == false && output.values.monitoring.prometheusRule.enabled == false
    error_message = "a scalar replaces a computed map; the sibling map stays"
  }

  assert {
    condition     = yamldecode(output.values_yaml).networkPolicies.database.to[1].ipBlock.cidr == "10.0.16.0/20"
    error_message = "values_yaml carries the merged values"
  }
}

run "extra_values_replace_a_computed_list" {
  command = apply

  variables {
    extra_values = { networkPolicies = { database = { to = [{ ipBlock = { cidr = "192.168.0.0/24" } }] } } }
  }

  assert {
    condition     = length(output.values.networkPolicies.database.to) == 1 && output.values.networkPolicies.database.to[0].ipBlock.cidr == "192.168.0.0/24" && output.values.networkPolicies.database.port == 5432
    error_message = "a list replaces the computed list; its sibling stays"
  }
}

run "ingress_sources_and_controller" {
  command = apply

  variables {
    ingress = {
      host         = "airflow.example.com"
      class_name   = "alb"
      allowed_from = ["10.0.0.0/16"]
    }
  }

  assert {
    condition     = length(output.values.networkPolicies.sourceCIDRs) == 1 && output.values.networkPolicies.sourceCIDRs[0] == "10.0.0.0/16" && !can(output.values.networkPolicies.apiServerFrom) && !can(output.values.networkPolicies.ingressController)
    error_message = "ingress.allowed_from are the load balancer's ranges: networkPolicies.sourceCIDRs"
  }
}

run "ingress_controller_in_the_cluster" {
  command = apply

  variables {
    ingress = {
      host       = "airflow.example.com"
      controller = { namespace = "app-routing-system", pod_labels = { app = "nginx" } }
    }
  }

  assert {
    condition     = output.values.networkPolicies.ingressController.namespace == "app-routing-system" && output.values.networkPolicies.ingressController.podLabels.app == "nginx" && length(output.values.networkPolicies.sourceCIDRs) == 0
    error_message = "ingress.controller is networkPolicies.ingressController"
  }

  assert {
    condition     = output.values.networkPolicies.ingressController.podLabels["app.kubernetes.io/name"] == null
    error_message = "the chart's default controller label is removed (Helm would merge it with the labels given)"
  }
}

run "secret_data_with_a_libpq_database_url" {
  command = apply

  variables {
    platform_secrets = {
      fernetKey     = "k"
      jwtSecret     = "j"
      jwtPrivateKey = "s"
      apiSecretKey  = "a"
      logFetchKey   = "l"
      adminPassword = "p"
      databaseUrl   = "postgresql+psycopg://airflow:pw@db.example.com:5432/airflow?sslmode=require"
      brokerUrl     = "rediss://:pw@cache:6379/0"
    }
  }

  assert {
    condition     = nonsensitive(output.secret_data["airdeck-database"].url) == "postgresql://airflow:pw@db.example.com:5432/airflow?sslmode=require"
    error_message = "the database URL in its libpq form (KEDA's scaler parses it with pgx)"
  }

  assert {
    condition     = nonsensitive(output.secret_data["airdeck-broker"].url) == "rediss://:pw@cache:6379/0" && nonsensitive(output.secret_data["airdeck-admin-password"].password) == "p" && length(output.secret_data) == 8
    error_message = "every other Secret keeps its value, under the chart's key"
  }
}

run "scheme_of_another_cloud_is_refused" {
  command = plan
  variables {
    task_logs_url = "gs://airdeck-task-logs/airflow/logs"
  }
  expect_failures = [terraform_data.checks]
}

run "unknown_cloud_is_refused" {
  command = plan
  variables {
    cloud = "oci"
  }
  expect_failures = [var.cloud]
}

run "bad_prefix_is_refused" {
  command = plan
  variables {
    prefix = "Airdeck_"
  }
  expect_failures = [var.prefix]
}

run "airdeck_not_an_object_is_refused" {
  command = plan
  variables {
    airdeck = "workers: {concurrency: 16}"
  }
  expect_failures = [var.airdeck]
}

run "database_url_in_values_is_refused" {
  command = plan
  variables {
    airdeck = { database = { url = "postgresql+psycopg://airflow:secret@db/airflow" } }
  }
  expect_failures = [var.airdeck]
}

run "broker_url_in_values_is_refused" {
  command = plan
  variables {
    airdeck = { broker = { url = "redis://:secret@cache:6379/0" } }
  }
  expect_failures = [var.airdeck]
}

run "logging_remote_in_values_is_refused" {
  command = plan
  variables {
    airdeck = { logging = { remote = "s3://elsewhere/logs" } }
  }
  expect_failures = [var.airdeck]
}

run "malformed_task_logs_url_is_refused" {
  command = plan
  variables {
    task_logs_url = "https://bucket.s3.amazonaws.com/logs"
  }
  expect_failures = [var.task_logs_url]
}

run "malformed_workload_identity_is_refused" {
  command = plan
  variables {
    workload_identity = "airdeck-role"
  }
  expect_failures = [var.workload_identity]
}

run "empty_database_cidrs_are_refused" {
  command = plan
  variables {
    database_cidrs = []
  }
  expect_failures = [var.database_cidrs]
}

run "bad_database_port_is_refused" {
  command = plan
  variables {
    database_port = 70000
  }
  expect_failures = [var.database_port]
}

run "bad_broker_cidr_is_refused" {
  command = plan
  variables {
    broker_cidrs = ["10.0.0.300/20"]
  }
  expect_failures = [var.broker_cidrs]
}

run "bad_broker_port_is_refused" {
  command = plan
  variables {
    broker_port = 0
  }
  expect_failures = [var.broker_port]
}

run "bad_ingress_host_is_refused" {
  command = plan
  variables {
    ingress = { host = "https://airflow.example.com/" }
  }
  expect_failures = [var.ingress]
}

run "bad_ingress_allowed_from_is_refused" {
  command = plan
  variables {
    ingress = { host = "airflow.example.com", allowed_from = ["10.0.0.0/33"] }
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

run "bad_image_tag_is_refused" {
  command = plan
  variables {
    image = { tag = "1.0 beta" }
  }
  expect_failures = [var.image]
}

run "latest_image_tag_is_refused" {
  command = plan
  variables {
    image = { tag = "latest" }
  }
  expect_failures = [var.image]
}

run "extra_values_with_secrets_are_refused" {
  command = plan
  variables {
    extra_values = { secrets = { generate = true } }
  }
  expect_failures = [var.extra_values]
}
