################################################################################
# Values of the airdeck chart (pure: no provider)
################################################################################

locals {
  # The cloud identity of the task log bucket, through the annotation of the ServiceAccounts of the
  # components that use the bucket only (the chart gives each component its own account): the workers and
  # the triggerer write task logs, the api-server reads them, the migration Job checks the bucket.
  # The cloud modules trust exactly these accounts (naming's task_log_service_accounts).
  # values key => the chart's component name (its ServiceAccount is <prefix>-<name>).
  task_log_components = { apiServer = "api-server", triggerer = "triggerer", workers = "worker", migrations = "migrate" }
  identity_annotation = {
    aws   = { "eks.amazonaws.com/role-arn" = var.workload_identity }
    gcp   = { "iam.gke.io/gcp-service-account" = var.workload_identity }
    azure = { "azure.workload.identity/client-id" = var.workload_identity }
  }[var.cloud]

  expected_scheme = { aws = "s3", gcp = "gs", azure = "wasb" }[var.cloud]
  scheme          = split("://", var.task_logs_url)[0]

  user_logging    = try(var.airdeck.logging, {})
  user_api_server = try(var.airdeck.api_server, {})

  # airdeck.yaml: the user's own configuration, with the task log destination (ambient identity: no
  # connection) and, behind an Ingress, the public URL.
  public_api_server = {
    for key, value in { api_server = merge({ base_url = "https://${try(var.ingress.host, "")}" }, local.user_api_server) } :
    key => value if var.ingress != null
  }
  airdeck = merge(var.airdeck, { logging = merge(local.user_logging, { remote = var.task_logs_url }) }, local.public_api_server)

  # The key inside each Secret, as the chart expects it (helm/airdeck/values.yaml `secrets`).
  secret_keys = {
    fernetKey     = "fernet-key"
    jwtSecret     = "jwt-secret"
    jwtPrivateKey = "jwt-private-key"
    apiSecretKey  = "api-secret-key"
    logFetchKey   = "log-fetch-key"
    adminPassword = "password"
    databaseUrl   = "url"
    brokerUrl     = "url"
  }
  # The Kubernetes Secrets the release mounts (created by the airdeck module from the cloud's values).
  secret_ids = {
    fernetKey     = "fernet-key"
    jwtSecret     = "jwt-secret"
    jwtPrivateKey = "jwt-private-key"
    apiSecretKey  = "api-secret-key"
    logFetchKey   = "log-fetch-key"
    adminPassword = "admin-password"
    databaseUrl   = "database"
    brokerUrl     = "broker"
  }
  secrets = {
    for key, file in local.secret_keys : key => { existingSecret = "${var.prefix}-${local.secret_ids[key]}", key = file }
  }
  # Labels of each Secret. The Fernet key's Secret is written once by Terraform and then rotated in the cluster
  # by `airdeck --target kubernetes --release <prefix> fernet rotate`, which rotates only a Secret labelled with
  # the release and airdeck.io/rotated-by = airdeck (platform/airdeck/kube/fernet.py, ROTATED_BY); the airdeck
  # module ignores later changes of its key.
  secret_labels = {
    for key in keys(local.secret_keys) : key => merge(
      { "app.kubernetes.io/part-of" = "airdeck" },
      key == "fernetKey" ? { "app.kubernetes.io/instance" = var.prefix, "airdeck.io/rotated-by" = "airdeck" } : {},
    )
  }

  ingress = {
    enabled       = var.ingress != null
    className     = try(var.ingress.class_name, "")
    host          = try(var.ingress.host, "airflow.example.com")
    tlsSecretName = try(var.ingress.tls_secret_name, "airdeck-tls")
    annotations   = try(var.ingress.annotations, {})
  }

  monitoring_labels = { for key, value in { release = try(var.prometheus_operator.release_label, "") } : key => value if var.prometheus_operator != null }
  monitoring = {
    serviceMonitor = { enabled = var.prometheus_operator != null, labels = local.monitoring_labels }
    prometheusRule = { enabled = var.prometheus_operator != null, labels = local.monitoring_labels }
  }

  computed = {
    mode                  = "production"
    fullnameOverride      = var.prefix
    airdeck               = local.airdeck
    images                = { airdeck = { repository = var.image.repository, tag = var.image.tag } }
    secrets               = local.secrets
    azureWorkloadIdentity = var.cloud == "azure"
    ingress               = local.ingress
    monitoring            = local.monitoring
    apiServer             = { serviceAccount = { annotations = local.identity_annotation } }
    triggerer             = { serviceAccount = { annotations = local.identity_annotation } }
    migrations            = { serviceAccount = { annotations = local.identity_annotation } }
    workers = {
      keda           = { enabled = var.keda_enabled }
      hpa            = { enabled = !var.keda_enabled }
      serviceAccount = { annotations = local.identity_annotation }
    }
    networkPolicies = merge(
      {
        enabled = true
        # The load balancer's own addresses reach the api-server's pods (ALB in IP mode, GKE NEGs).
        sourceCIDRs = try(var.ingress.allowed_from, [])
        database    = { port = var.database_port, to = [for c in var.database_cidrs : { ipBlock = { cidr = c } }] }
        broker      = { port = var.broker_port, to = [for c in var.broker_cidrs : { ipBlock = { cidr = c } }] }
      },
      # An in-cluster ingress controller (e.g. AKS application routing's NGINX) forwards from its pods.
      # Helm merges podLabels with the chart's default (ingress-nginx's label); null removes that key, so
      # the selector is exactly the labels given.
      { for key, value in { ingressController = try({
        namespace = var.ingress.controller.namespace
        podLabels = merge({ "app.kubernetes.io/name" = null }, var.ingress.controller.pod_labels)
      }, null) } : key => value if value != null },
    )
  }

  # extra_values over the computed values, deeply: where both sides hold a map (object) at the same key,
  # the maps merge; anything else (a list, a string, a number, a bool, null against a map) in
  # extra_values replaces the computed value. Terraform has no recursion, so the merge is written out to
  # six levels of maps (deeper than any key of the chart's values.yaml); below the sixth level an
  # extra map replaces the computed one. `try` picks the merged maps when both sides are maps and falls
  # back to the extra value, then to the computed one.
  c = local.computed
  e = var.extra_values
  values = {
    for k1 in distinct(concat(keys(local.c), keys(local.e))) : k1 => try({
      for k2 in keys(merge(local.c[k1], local.e[k1])) : k2 => try({
        for k3 in keys(merge(local.c[k1][k2], local.e[k1][k2])) : k3 => try({
          for k4 in keys(merge(local.c[k1][k2][k3], local.e[k1][k2][k3])) : k4 => try({
            for k5 in keys(merge(local.c[k1][k2][k3][k4], local.e[k1][k2][k3][k4])) : k5 => try(
              merge(local.c[k1][k2][k3][k4][k5], local.e[k1][k2][k3][k4][k5]),
            local.e[k1][k2][k3][k4][k5], local.c[k1][k2][k3][k4][k5])
          }, local.e[k1][k2][k3][k4], local.c[k1][k2][k3][k4])
        }, local.e[k1][k2][k3], local.c[k1][k2][k3])
      }, local.e[k1][k2], local.c[k1][k2])
    }, local.e[k1], local.c[k1])
  }
}

# Cross-variable rule: the destination's scheme is the cloud's own store.
resource "terraform_data" "checks" {
  input = local.scheme

  lifecycle {
    precondition {
      condition     = local.scheme == local.expected_scheme
      error_message = "task_logs_url: on ${var.cloud} task logs go to ${local.expected_scheme}:// (got ${local.scheme}://)."
    }
  }
}
