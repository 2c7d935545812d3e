################################################################################
# kube-prometheus-stack's Grafana and Alertmanager: admin password, dashboards folder, Ingress, routing
################################################################################

locals {
  monitoring_namespace = "monitoring"
  grafana_service      = "kube-prometheus-stack-grafana"
  grafana_admin_secret = "grafana-admin"
  # Grafana beside the UI: the UI's IngressClass and annotations (load balancer scheme, certificate,
  # source ranges), its own host and TLS Secret (a Secret is read in the Ingress's own namespace).
  grafana_ingress = var.ingress != null && var.grafana.host != null
  # The values of the kube-prometheus-stack release (tests/terraform evaluates this block on its own).
  kube_prometheus_stack_values = {
    # Alertmanager merges the release's AlertmanagerConfig (helm/airdeck monitoring.alertmanagerConfig):
    # only airdeck's, only from the release's namespace, and (strategy OnNamespace) only for alerts
    # labelled with that namespace, which the chart's PrometheusRule puts on every platform alert. airdeck's
    # message layouts (prometheus/templates/airdeck.tmpl) are loaded for monitoring.alertmanagerConfig.airdeckTemplates.
    alertmanager = {
      alertmanagerSpec = {
        alertmanagerConfigSelector          = { matchLabels = { "app.kubernetes.io/part-of" = "airdeck" } }
        alertmanagerConfigNamespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = var.namespace } }
        alertmanagerConfigMatcherStrategy   = { type = "OnNamespace" }
      }
      templateFiles = { "airdeck.tmpl" = file("${path.module}/../../../prometheus/templates/airdeck.tmpl") }
    }
    grafana = {
      # The admin account's password is generated and kept in a Secret (no chart default password).
      admin = { existingSecret = local.grafana_admin_secret, userKey = "admin-user", passwordKey = "admin-password" }
      # The dashboard sidecar loads the airdeck chart's ConfigMaps from every namespace, into the folder
      # their grafana_folder annotation names (helm/airdeck monitoring.grafanaDashboards).
      sidecar = {
        dashboards = {
          enabled          = true
          label            = "grafana_dashboard"
          labelValue       = "1"
          searchNamespace  = "ALL"
          folderAnnotation = "grafana_folder"
          provider         = { foldersFromFilesStructure = true }
        }
      }
      # One shape for both cases (a conditional between objects of different shapes does not type-check).
      ingress = {
        enabled          = local.grafana_ingress
        ingressClassName = local.grafana_ingress ? try(coalesce(var.ingress.class_name), null) : null
        annotations      = local.grafana_ingress ? var.ingress.annotations : {}
        hosts            = local.grafana_ingress ? [var.grafana.host] : []
        path             = "/"
        tls              = local.grafana_ingress ? [{ secretName = var.grafana.tls_secret_name, hosts = [var.grafana.host] }] : []
      }
      "grafana.ini" = {
        server = { root_url = local.grafana_ingress ? "https://${var.grafana.host}" : "http://127.0.0.1:3000" }
      }
    }
  }
}

resource "kubernetes_namespace_v1" "monitoring" {
  count = var.enable_kube_prometheus_stack ? 1 : 0

  metadata {
    name   = local.monitoring_namespace
    labels = { "app.kubernetes.io/part-of" = "airdeck" }
  }
}

resource "random_password" "grafana_admin" {
  count = var.enable_kube_prometheus_stack ? 1 : 0

  length  = 32
  special = false
}

resource "kubernetes_secret_v1" "grafana_admin" {
  count = var.enable_kube_prometheus_stack ? 1 : 0

  metadata {
    name      = local.grafana_admin_secret
    namespace = kubernetes_namespace_v1.monitoring[0].metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  type = "Opaque"
  data = {
    "admin-user"     = "admin"
    "admin-password" = random_password.grafana_admin[0].result
  }
}
