variable "cloud" {
  description = "The cloud the cluster runs on. Valid values are `aws`, `gcp` and `azure`."
  type        = string

  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud)
    error_message = "cloud must be one of aws, gcp or azure."
  }
}

variable "prefix" {
  description = "Prefix of every Kubernetes object of the release (the cloud module's `prefix` output: the workload identity trusts the service account of this name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3 to 32 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the release (created by the module)."
  type        = string
  default     = "airflow"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "chart" {
  description = "The airdeck chart: a path to helm/airdeck or a chart reference in a repository."
  type        = string
  default     = null
}

variable "chart_version" {
  description = "Version of the chart when `chart` is a repository reference (null: the path's own)."
  type        = string
  default     = null
}

variable "airdeck" {
  description = "The platform's configuration in the airdeck.yaml vocabulary (docs/configuration.md), as an object; the module fills `logging.remote` and, behind an Ingress, `api_server.base_url`."
  type        = any
  default     = {}
}

variable "platform_secrets" {
  description = "The platform's secrets by the chart's key (fernetKey, jwtSecret, jwtPrivateKey, apiSecretKey, logFetchKey, adminPassword, databaseUrl, brokerUrl): the cloud module's `platform_secrets` output."
  type        = map(string)
  sensitive   = true

  validation {
    condition     = length(setsubtract(["fernetKey", "jwtSecret", "jwtPrivateKey", "apiSecretKey", "logFetchKey", "adminPassword", "databaseUrl", "brokerUrl"], keys(var.platform_secrets))) == 0
    error_message = "platform_secrets must hold fernetKey, jwtSecret, jwtPrivateKey, apiSecretKey, logFetchKey, adminPassword, databaseUrl and brokerUrl."
  }
}

variable "task_logs_url" {
  description = "logging.remote: the cloud module's `task_logs_url` output."
  type        = string
}

variable "workload_identity" {
  description = "The cloud identity of the pods: the cloud module's `workload_identity` output."
  type        = string
}

variable "database_cidrs" {
  description = "CIDR blocks of the database and cache: the cloud module's `database_cidrs` output."
  type        = list(string)
}

variable "broker_port" {
  description = "TCP port of Redis: the cloud module's `broker_port` output."
  type        = number
  default     = 6379
}

variable "ingress" {
  description = "Ingress to the UI: host, IngressClass, TLS Secret (the certificate is yours or cert-manager's), annotations; `allowed_from`: the CIDR blocks the load balancer reaches the pods from (networkPolicies.sourceCIDRs); `controller`: namespace and pod labels of an in-cluster ingress controller (networkPolicies.ingressController). `null`: none."
  type = object({
    host            = string
    class_name      = optional(string, "")
    tls_secret_name = optional(string, "airdeck-tls")
    annotations     = optional(map(string), {})
    allowed_from    = optional(list(string), [])
    controller = optional(object({
      namespace  = string
      pod_labels = map(string)
    }))
  })
  default = null

  validation {
    condition     = var.ingress == null || alltrue([for c in try(var.ingress.allowed_from, []) : can(cidrhost(c, 0))])
    error_message = "ingress.allowed_from must list CIDR blocks (e.g. 10.0.0.0/16), the addresses the load balancer reaches the pods from."
  }

  validation {
    condition     = var.ingress == null || length(try(var.ingress.controller.pod_labels, { given = "" })) > 0
    error_message = "ingress.controller.pod_labels must name the controller's pod labels (e.g. { app = \"nginx\" }): Helm merges an empty map with the chart's default (ingress-nginx's labels), which would not select the controller."
  }
}

variable "image" {
  description = "The airdeck image: repository and tag (empty tag: the chart's appVersion)."
  type = object({
    repository = optional(string, "ghcr.io/airdeck/airdeck")
    tag        = optional(string, "")
  })
  default = {}
}

variable "extra_values" {
  description = "Further values of the airdeck chart (not airdeck or secrets), merged deeply over the computed ones: maps merge key by key, lists and scalars replace."
  type        = any
  default     = {}
}

variable "enable_kube_prometheus_stack" {
  description = "Install kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana), which picks up the chart's ServiceMonitor, PrometheusRule and dashboards."
  type        = bool
  default     = true
}

variable "kube_prometheus_stack_version" {
  description = "Version of the kube-prometheus-stack chart."
  type        = string
  default     = "75.15.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kube_prometheus_stack_version))
    error_message = "kube_prometheus_stack_version must be a version such as 75.15.1."
  }
}

variable "enable_keda" {
  description = "Install KEDA and scale the Celery workers on queued and running tasks (instead of the CPU HPA)."
  type        = bool
  default     = false
}

variable "keda_version" {
  description = "Version of the KEDA chart."
  type        = string
  default     = "2.17.2"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.keda_version))
    error_message = "keda_version must be a version such as 2.17.2."
  }
}

variable "timeout" {
  description = "Seconds Helm waits for the release's pods (the migration Job runs first)."
  type        = number
  default     = 1200

  validation {
    condition     = var.timeout >= 300
    error_message = "timeout must be at least 300 seconds: the database migration runs before the pods are ready."
  }
}

variable "grafana" {
  description = "kube-prometheus-stack's Grafana: `host` serves it through an Ingress beside the UI's (same IngressClass and annotations, so the same load balancer scheme, certificate and source restriction; needs `ingress`), with the certificate in `tls_secret_name` in namespace monitoring. `host` null: reach it with the `grafana_url` output's port-forward."
  type = object({
    host            = optional(string)
    tls_secret_name = optional(string, "grafana-tls")
  })
  default = {}

  validation {
    condition     = var.grafana.host == null || can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", coalesce(var.grafana.host, "x")))
    error_message = "grafana.host must be a DNS name such as grafana.example.com."
  }
}
