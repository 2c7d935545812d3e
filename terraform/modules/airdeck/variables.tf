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
  description = "The platform's configuration in the airdeck.yaml vocabulary (docs/configuration.md), as an object; the module fills `logging.remote`, behind an Ingress `api_server.base_url`, and `auth` / `alerts.channels` from `ldap` and `alert_channels`. Sensitive: a secret pasted here by mistake stays out of plan output."
  type        = any
  default     = {}
  sensitive   = true
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
  description = "Further values of the airdeck chart (not airdeck or secrets), merged deeply over the computed ones: maps merge key by key, lists and scalars replace. Sensitive, like `airdeck`."
  type        = any
  default     = {}
  sensitive   = true
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

variable "ldap" {
  description = "LDAP sign-in (airdeck.auth.ldap, docs/security.md): `url` (ldaps:// or ldap:// with StartTLS), search-then-bind with `bind_dn`, `bind_password` and `user_search_base` (or direct bind with `user_dn_template`), `group_search_base`, `roles_mapping` (group DN -> roles), `default_role`, and `ca_pem`, the PEM certificate of a private CA that signed the directory's certificate. The password goes to the Kubernetes Secret `<prefix>-ldap` and the CA to the ConfigMap `<prefix>-ldap-ca`, mounted in the api-server only. `null`: sign-in with Airflow's own accounts."
  type = object({
    url               = string
    start_tls         = optional(bool, true)
    bind_dn           = optional(string)
    bind_password     = optional(string)
    user_dn_template  = optional(string)
    user_search_base  = optional(string)
    user_filter       = optional(string)
    uid_attribute     = optional(string)
    group_search_base = optional(string)
    group_filter      = optional(string)
    roles_mapping     = optional(map(list(string)), {})
    default_role      = optional(string)
    ca_pem            = optional(string)
  })
  default   = null
  sensitive = true

  validation {
    condition     = var.ldap == null || can(regex("^ldaps?://[^/\\s]+$", var.ldap.url))
    error_message = "ldap.url must be ldaps://host[:port] or ldap://host[:port] (with start_tls)."
  }

  validation {
    condition     = var.ldap == null || (try(var.ldap.bind_dn, null) != null) != (try(var.ldap.user_dn_template, null) != null)
    error_message = "ldap: give bind_dn (search-then-bind, with bind_password and user_search_base) or user_dn_template (direct bind), not both."
  }

  validation {
    condition     = var.ldap == null || try(var.ldap.bind_dn, null) == null || (try(var.ldap.bind_password, null) != null && try(var.ldap.user_search_base, null) != null)
    error_message = "ldap.bind_dn needs ldap.bind_password (the service account's password) and ldap.user_search_base."
  }

  validation {
    condition     = var.ldap == null || try(var.ldap.ca_pem, null) == null || can(regex("^\\s*-----BEGIN CERTIFICATE-----", var.ldap.ca_pem))
    error_message = "ldap.ca_pem must be a PEM certificate (-----BEGIN CERTIFICATE-----), e.g. file(\"ldap-ca.pem\")."
  }
}

variable "roles" {
  description = "The roles file (security/roles.yaml's format: version, permission_sets, roles) as an object, e.g. yamldecode(file(\"security/roles.yaml\")); the migration Job applies it at every install and upgrade and fails the release when `ldap.roles_mapping` names a role that does not exist. `null`: airdeck's packaged roles file."
  type        = any
  default     = null

  validation {
    condition     = var.roles == null || try(var.roles.version, 0) == 1 && can(keys(var.roles.roles))
    error_message = "roles must be a roles file as an object: { version = 1, roles = { Name = { permissions = [...] } } }."
  }
}

variable "alert_channels" {
  description = "Alert channels (airdeck.alerts.channels) by name: `type` slack (`webhook_url`) or email (`to`, and `smtp` = { host, port, login, password, from_email, starttls }). Each becomes the Kubernetes Secret `<prefix>-alert-<name>` holding its Airflow connection, created before the release and read by the alert dispatcher only. Route alerts to them with airdeck.alerts.routes / default_channels."
  type = map(object({
    type        = string
    webhook_url = optional(string)
    to          = optional(list(string), [])
    smtp = optional(object({
      host       = string
      port       = optional(number, 587)
      login      = optional(string)
      password   = optional(string)
      from_email = optional(string)
      starttls   = optional(bool, true)
    }))
  }))
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for name in keys(var.alert_channels) : can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", name))])
    error_message = "alert_channels: a channel name is 1 to 40 lowercase letters, digits and hyphens (it names the Secret <prefix>-alert-<name>)."
  }

  validation {
    condition     = alltrue([for c in values(var.alert_channels) : contains(["slack", "email"], c.type)])
    error_message = "alert_channels: type must be slack or email."
  }

  validation {
    condition     = alltrue([for c in values(var.alert_channels) : c.type != "slack" || can(regex("^https://", c.webhook_url))])
    error_message = "alert_channels: a slack channel needs webhook_url, the https:// URL of a Slack incoming webhook."
  }

  validation {
    condition     = alltrue([for c in values(var.alert_channels) : c.type != "email" || (c.smtp != null && length(c.to) > 0)])
    error_message = "alert_channels: an email channel needs smtp (host, port, login, password, from_email) and at least one address in to."
  }
}

variable "break_glass" {
  description = "With `ldap`: the admin account (airdeck.admin.username, password in the `<prefix>-admin-password` Secret) still signs in with its own password when the directory is down (airdeck.auth.break_glass_users). `false`: only directory accounts sign in."
  type        = bool
  default     = true
}
