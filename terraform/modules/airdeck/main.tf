################################################################################
# The airdeck release: namespace, platform Secrets, Helm release, add-ons
################################################################################

module "values" {
  source = "../helm-values"

  cloud               = var.cloud
  prefix              = var.prefix
  airdeck             = var.airdeck
  task_logs_url       = var.task_logs_url
  workload_identity   = var.workload_identity
  database_cidrs      = var.database_cidrs
  broker_cidrs        = var.database_cidrs
  broker_port         = var.broker_port
  ingress             = var.ingress
  keda_enabled        = var.enable_keda
  prometheus_operator = var.enable_kube_prometheus_stack ? { release_label = "kube-prometheus-stack" } : null
  image               = var.image
  extra_values        = var.extra_values
}

locals {
  chart = coalesce(var.chart, "${path.module}/../../../helm/airdeck")
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
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  type = "Opaque"
  data = {
    (each.value.key) = var.platform_secrets[each.key]
  }
}

resource "helm_release" "kube_prometheus_stack" {
  count = var.enable_kube_prometheus_stack ? 1 : 0

  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.kube_prometheus_stack_version
  namespace        = "monitoring"
  create_namespace = true
  wait             = true
  timeout          = 900

  # Grafana's sidecar loads the chart's dashboard ConfigMaps from every namespace.
  values = [yamlencode({
    grafana = {
      sidecar = { dashboards = { enabled = true, label = "grafana_dashboard", searchNamespace = "ALL" } }
    }
  })]
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
  wait            = true
  timeout         = var.timeout
  atomic          = false
  cleanup_on_fail = false
  max_history     = 10

  values = [module.values.values_yaml]

  depends_on = [kubernetes_secret_v1.platform, helm_release.kube_prometheus_stack, helm_release.keda]
}
