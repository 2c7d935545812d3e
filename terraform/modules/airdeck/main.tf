################################################################################
# The airdeck release: namespace, platform Secrets, Helm release, add-ons
################################################################################

module "values" {
  source = "../helm-values"

  cloud               = var.cloud
  prefix              = var.prefix
  airdeck             = local.configured_airdeck
  task_logs_url       = var.task_logs_url
  workload_identity   = var.workload_identity
  database_cidrs      = var.database_cidrs
  broker_cidrs        = var.database_cidrs
  broker_port         = var.broker_port
  ingress             = var.ingress
  keda_enabled        = var.enable_keda
  prometheus_operator = var.enable_kube_prometheus_stack ? { release_label = "kube-prometheus-stack" } : null
  image               = var.image
  extra_values        = local.configured_extra_values
  platform_secrets    = var.platform_secrets
}

locals {
  chart = coalesce(var.chart, "${path.module}/../../../helm/airdeck")
  # The chart's components that run Airflow code (helm/airdeck/templates/networkpolicies).
  airflow_components = ["api-server", "scheduler", "dag-processor", "triggerer", "worker", "alert-dispatcher", "migrate", "canary"]
}

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of"          = "airdeck"
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

resource "kubernetes_secret_v1" "platform" {
  for_each = module.values.kubernetes_secrets

  metadata {
    name      = each.value.name
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    # The Fernet key's Secret also carries the release and airdeck.io/rotated-by = airdeck: the airdeck CLI's
    # `fernet rotate` rotates it in the cluster.
    labels = each.value.labels
  }

  type = "Opaque"
  # The database URL in its libpq form: KEDA's PostgreSQL scaler reads the same Secret.
  data = module.values.secret_data[each.value.name]

  lifecycle {
    # The Fernet key list is written by the first apply only; after that the cluster Secret is its home
    # (`airdeck --target kubernetes fernet rotate` rewrites it), so a later apply neither sets the first key
    # back nor removes the state of an unfinished rotation. Only the Fernet key's Secret has these keys.
    ignore_changes = [data["fernet-key"], metadata[0].annotations["airdeck.io/fernet-rotation"]]
  }
}

# The chart's NetworkPolicies deny all egress but the platform's own flows; the task log store and the
# cloud's token service are HTTPS endpoints outside the cluster (S3 and STS, GCS and the GKE metadata
# server, Blob Storage and Entra ID). This policy adds exactly that for the Airflow pods (policies add up).
resource "kubernetes_network_policy_v1" "cloud_egress" {
  metadata {
    name      = "${var.prefix}-cloud-egress"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  spec {
    policy_types = ["Egress"]

    pod_selector {
      match_expressions {
        key      = "app.kubernetes.io/instance"
        operator = "In"
        values   = [var.prefix]
      }
      match_expressions {
        key      = "app.kubernetes.io/component"
        operator = "In"
        values   = local.airflow_components
      }
    }

    egress {
      ports {
        protocol = "TCP"
        port     = "443"
      }
    }

    dynamic "egress" {
      for_each = var.cloud == "gcp" ? [1] : []
      content {
        # GKE Workload Identity: the metadata server (169.254.169.254:80, served on 988 by the node).
        to {
          ip_block {
            cidr = "169.254.169.254/32"
          }
        }
        to {
          ip_block {
            cidr = "169.254.169.252/32"
          }
        }
        ports {
          protocol = "TCP"
          port     = "80"
        }
        ports {
          protocol = "TCP"
          port     = "988"
        }
      }
    }
  }
}

resource "helm_release" "kube_prometheus_stack" {
  count = var.enable_kube_prometheus_stack ? 1 : 0

  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.kube_prometheus_stack_version
  namespace        = kubernetes_namespace_v1.monitoring[0].metadata[0].name
  create_namespace = false
  wait             = true
  timeout          = 900

  # Grafana's admin Secret, dashboards folder and Ingress: monitoring.tf.
  values = [yamlencode(local.kube_prometheus_stack_values)]

  depends_on = [kubernetes_secret_v1.grafana_admin]

  lifecycle {
    precondition {
      condition     = var.grafana.host == null || var.ingress != null
      error_message = "grafana.host needs ingress: Grafana is served through the UI's IngressClass and annotations; set ingress or leave grafana.host null (port-forward)."
    }
  }
}

resource "helm_release" "keda" {
  count = var.enable_keda ? 1 : 0

  name             = "keda"
  repository       = "https://kedacore.github.io/charts"
  chart            = "keda"
  version          = var.keda_version
  namespace        = "keda"
  create_namespace = true
  wait             = true
}

resource "helm_release" "airdeck" {
  name      = var.prefix
  chart     = local.chart
  version   = var.chart_version
  namespace = kubernetes_namespace_v1.this.metadata[0].name
  # The migration runs as a plain Job (migrations.useHelmHooks false), so waiting cannot deadlock.
  wait = true
  # The migration Job applies the roles file and fails when the LDAP mapping names a missing role:
  # waiting for it makes that failure the release's.
  wait_for_jobs   = true
  timeout         = var.timeout
  atomic          = false
  cleanup_on_fail = false
  max_history     = 10

  values = [module.values.values_yaml]

  depends_on = [kubernetes_secret_v1.platform, kubernetes_network_policy_v1.cloud_egress, helm_release.kube_prometheus_stack, helm_release.keda, kubernetes_secret_v1.ldap, kubernetes_config_map_v1.ldap_ca, kubernetes_secret_v1.alert_channel]
}
