variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens)."
  }
}

variable "region" {
  description = "Google Cloud region of everything (e.g. europe-west1)."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name" {
  description = "Name of the deployment (prefix of every object): 3 to 16 lowercase letters, digits and hyphens."
  type        = string
  default     = "airdeck"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "operator_cidrs" {
  description = "Your networks (IPv4 CIDR, e.g. [\"203.0.113.7/32\"]): the only sources the cluster API and the UI accept."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) >= 1 && length(var.operator_cidrs) <= 50 && alltrue([for c in var.operator_cidrs : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "operator_cidrs must be 1 to 50 IPv4 CIDR blocks such as 203.0.113.7/32 (curl -4 ifconfig.me prints your address), none of them /0."
  }
}

variable "host" {
  description = "Host name of the UI (e.g. airflow.example.com): the certificate's name, and the DNS record's when dns_zone is given."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name in lowercase (e.g. airflow.example.com)."
  }
}

variable "dns_zone" {
  description = "Name of the Cloud DNS managed zone of this project that holds host (gcloud dns managed-zones list): the records are created there. Empty: create the records of the dns_records output yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.dns_zone))
    error_message = "dns_zone must be empty or a Cloud DNS managed zone name (e.g. example-com), not its DNS name."
  }
}

variable "deletion_protection" {
  description = "Protect the cluster and the database against deletion and keep the bucket's objects. To remove everything: apply with false, then destroy."
  type        = bool
  default     = true
}

variable "node_min_count" {
  description = "Fewest nodes of the node pool (across the region's zones)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes of the node pool (the GKE cluster autoscaler adds nodes up to this)."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 1000 (and at least node_min_count)."
  }
}

variable "node_machine_type" {
  description = "Machine type of the nodes (e.g. e2-standard-4; t2a-standard-4 for arm64)."
  type        = string
  default     = "e2-standard-4"

  validation {
    condition     = can(regex("^[a-z0-9]+-[a-z0-9-]+$", var.node_machine_type))
    error_message = "node_machine_type must be a machine type such as e2-standard-4."
  }
}

variable "db_tier" {
  description = "Cloud SQL machine tier of PostgreSQL."
  type        = string
  default     = "db-custom-2-7680"

  validation {
    condition     = can(regex("^db-(custom-[0-9]+-[0-9]+|perf-optimized-N-[0-9]+|g1-small|f1-micro)$", var.db_tier))
    error_message = "db_tier must be a Cloud SQL tier such as db-custom-2-7680."
  }
}

variable "cache_memory_size_gb" {
  description = "Memory of the Memorystore Redis instance in GB."
  type        = number
  default     = 5

  validation {
    condition     = var.cache_memory_size_gb >= 1 && var.cache_memory_size_gb <= 300
    error_message = "cache_memory_size_gb must be 1 to 300."
  }
}

variable "cluster_admins" {
  description = "IAM members given roles/container.admin (e.g. [\"group:platform@example.com\"])."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.cluster_admins : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])
    error_message = "cluster_admins must be IAM members such as user:ana@example.com or group:platform@example.com."
  }
}

variable "create_registry" {
  description = "Create an Artifact Registry repository the nodes pull from (outputs registry_url and image_push_commands)."
  type        = bool
  default     = false
}

variable "airdeck" {
  description = "Your airdeck.yaml as an object (docs/configuration.md)."
  type        = any
  default = {
    workers = { concurrency = 16 }
  }
}

variable "image" {
  description = "The airdeck image (default: the published multi-arch image with every cloud extra at the chart's appVersion; your own: docs/cloud.md, The image)."
  type = object({
    repository = optional(string, "ghcr.io/airdeck/airdeck")
    tag        = optional(string, "")
  })
  default = {}
}
