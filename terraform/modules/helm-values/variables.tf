variable "cloud" {
  description = "The cloud the release runs on; decides the workload identity annotation. Valid values are `aws`, `gcp` and `azure`."
  type        = string

  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud)
    error_message = "cloud must be one of aws, gcp or azure."
  }
}

variable "prefix" {
  description = "Prefix of every Kubernetes object (the chart's fullnameOverride); each component's service account is <prefix>-<component>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3 to 32 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "airdeck" {
  description = "The platform's configuration in the airdeck.yaml vocabulary (docs/configuration.md), as an object. `logging.remote` is filled from the task log bucket; `database.url` and `broker.url` must not be given (they come from Secrets)."
  type        = any
  default     = {}

  validation {
    condition     = can(keys(var.airdeck))
    error_message = "airdeck must be an object in the airdeck.yaml vocabulary (e.g. { workers = { concurrency = 16 } })."
  }

  validation {
    condition     = try(var.airdeck.database.url, null) == null && try(var.airdeck.broker.url, null) == null
    error_message = "airdeck.database.url and airdeck.broker.url must not be set: they hold passwords and the module puts them in Kubernetes Secrets from the managed database and cache."
  }

  validation {
    condition     = try(var.airdeck.logging.remote, null) == null
    error_message = "airdeck.logging.remote must not be set: the module points it at the task log bucket it creates."
  }
}

variable "task_logs_url" {
  description = "Where task logs go (logging.remote): `s3://bucket/prefix` on AWS, `gs://bucket/prefix` on GCP, `wasb://container@account/prefix` on Azure."
  type        = string

  validation {
    condition     = can(regex("^(s3|gs)://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._/-]*)?$|^wasb://[a-z0-9-]{3,63}@[a-z0-9]{3,24}(/[A-Za-z0-9._/-]*)?$", var.task_logs_url))
    error_message = "task_logs_url must be s3://bucket/prefix, gs://bucket/prefix or wasb://container@account/prefix."
  }
}

variable "workload_identity" {
  description = "The cloud identity of the task log bucket, given to the service accounts of the workers, triggerer, api-server and migration Job only: the IAM role ARN (AWS), the Google service account e-mail (GCP) or the user-assigned identity's client id (Azure)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$|^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.workload_identity))
    error_message = "workload_identity must be an IAM role ARN, a Google service account e-mail or an Azure client id (a UUID)."
  }
}

variable "database_cidrs" {
  description = "CIDR blocks of the database's subnet: the only addresses the pods may reach on the database port (NetworkPolicy egress)."
  type        = list(string)

  validation {
    condition     = length(var.database_cidrs) > 0 && alltrue([for c in var.database_cidrs : can(cidrhost(c, 0))])
    error_message = "database_cidrs must be a non-empty list of CIDR blocks (e.g. 10.0.32.0/20)."
  }
}

variable "database_port" {
  description = "TCP port of PostgreSQL."
  type        = number
  default     = 5432

  validation {
    condition     = var.database_port >= 1 && var.database_port <= 65535 && floor(var.database_port) == var.database_port
    error_message = "database_port must be an integer from 1 to 65535."
  }
}

variable "broker_cidrs" {
  description = "CIDR blocks of the cache's subnet: the only addresses the pods may reach on the broker port."
  type        = list(string)

  validation {
    condition     = length(var.broker_cidrs) > 0 && alltrue([for c in var.broker_cidrs : can(cidrhost(c, 0))])
    error_message = "broker_cidrs must be a non-empty list of CIDR blocks."
  }
}

variable "broker_port" {
  description = "TCP port of the Redis cache (6380 on Azure Cache for Redis TLS, 6379 elsewhere)."
  type        = number
  default     = 6379

  validation {
    condition     = var.broker_port >= 1 && var.broker_port <= 65535 && floor(var.broker_port) == var.broker_port
    error_message = "broker_port must be an integer from 1 to 65535."
  }
}

variable "ingress" {
  description = "Ingress to the UI and API: host name, IngressClass, the TLS Secret of the host's certificate, annotations; `allowed_from`: the address ranges the load balancer reaches the pods from (networkPolicies.sourceCIDRs: an ALB in IP mode, GKE's proxies); `controller`: the namespace and pod labels of an in-cluster ingress controller (networkPolicies.ingressController). `null`: no Ingress (reach the UI with kubectl port-forward)."
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
    condition     = var.ingress == null || can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.ingress.host))
    error_message = "ingress.host must be a fully qualified DNS name (e.g. airflow.example.com)."
  }

  validation {
    condition     = var.ingress == null || alltrue([for c in try(var.ingress.allowed_from, []) : can(cidrhost(c, 0))])
    error_message = "ingress.allowed_from must list CIDR blocks (e.g. 10.0.0.0/16), the addresses the load balancer reaches the pods from."
  }

  validation {
    condition     = var.ingress == null || length(try(var.ingress.controller.pod_labels, { given = "" })) > 0
    error_message = "ingress.controller.pod_labels must name the controller's pod labels (e.g. { app = \"nginx\" }): Helm merges an empty map with the chart's default (ingress-nginx's labels), which would not select the controller."
  }
}

variable "keda_enabled" {
  description = "Scale the Celery workers with KEDA (the KEDA operator must be installed; the airdeck module can install it)."
  type        = bool
  default     = false
}

variable "prometheus_operator" {
  description = "Render the ServiceMonitor and PrometheusRule (the Prometheus Operator CRDs must exist) and label them for this Prometheus release. `null`: not rendered."
  type = object({
    release_label = optional(string, "kube-prometheus-stack")
  })
  default = null
}

variable "image" {
  description = "The airdeck image: repository and tag (empty tag: the chart's appVersion)."
  type = object({
    repository = optional(string, "ghcr.io/airdeck/airdeck")
    tag        = optional(string, "")
  })
  default = {}

  validation {
    condition     = var.image.tag == "" || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image.tag))
    error_message = "image.tag must be a valid image tag (letters, digits, '_', '.', '-'; at most 128 characters)."
  }

  validation {
    condition     = var.image.tag != "latest"
    error_message = "image.tag must not be latest: pin a version so every pod runs the same code."
  }
}

variable "extra_values" {
  description = "Further values of the airdeck chart (helm/airdeck/values.yaml), merged deeply over the computed ones: maps merge key by key (six levels deep), a list, string, number or bool replaces the computed value. Use `airdeck` for the platform's configuration."
  type        = any
  default     = {}

  validation {
    condition     = can(keys(var.extra_values)) && !contains(try(keys(var.extra_values), []), "airdeck") && !contains(try(keys(var.extra_values), []), "secrets")
    error_message = "extra_values must be an object of chart values without the keys airdeck (use the airdeck variable) and secrets (the module manages them)."
  }
}

variable "platform_secrets" {
  description = "The platform's secret values by the chart's key (fernetKey, …, databaseUrl, brokerUrl), for the `secret_data` output. Empty: `secret_data` is empty."
  type        = map(string)
  default     = {}
  sensitive   = true
}
