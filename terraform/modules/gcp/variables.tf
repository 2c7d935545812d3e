variable "project_id" {
  description = "ID of the Google Cloud project everything is created in."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens)."
  }
}

variable "region" {
  description = "Region of the cluster, database, cache and bucket (e.g. europe-west1)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name" {
  description = "Name of the deployment: prefix of every object. 3 to 16 lowercase letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the airdeck release (Workload Identity binds its service account only)."
  type        = string
  default     = "airflow"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "subnet_cidr" {
  description = "Primary CIDR block of the nodes' subnet."
  type        = string
  default     = "10.10.0.0/20"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a CIDR block."
  }
}

variable "pods_cidr" {
  description = "Secondary CIDR block of the pods."
  type        = string
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.pods_cidr, 0))
    error_message = "pods_cidr must be a CIDR block."
  }
}

variable "services_cidr" {
  description = "Secondary CIDR block of the Services."
  type        = string
  default     = "10.30.0.0/20"

  validation {
    condition     = can(cidrhost(var.services_cidr, 0))
    error_message = "services_cidr must be a CIDR block."
  }
}

variable "master_ipv4_cidr_block" {
  description = "/28 block of the private control plane."
  type        = string
  default     = "172.16.0.0/28"

  validation {
    condition     = can(cidrhost(var.master_ipv4_cidr_block, 0)) && endswith(var.master_ipv4_cidr_block, "/28")
    error_message = "master_ipv4_cidr_block must be a /28 CIDR block."
  }
}

variable "operator_cidrs" {
  description = "IPv4 networks (CIDR) of the people and machines that run Terraform and use the UI: the only sources the cluster's API (master authorized networks) and the UI (Cloud Armor) accept. 1 to 50 blocks, never 0.0.0.0/0."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) >= 1 && length(var.operator_cidrs) <= 50 && alltrue([for c in var.operator_cidrs : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "operator_cidrs must be 1 to 50 IPv4 CIDR blocks such as 203.0.113.7/32, none of them /0 (that would open the cluster API and the UI to the world)."
  }
}

variable "host" {
  description = "Host name of the UI (e.g. airflow.example.com): the certificate's name and, with dns_zone, the DNS record."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name in lowercase (e.g. airflow.example.com)."
  }
}

variable "dns_zone" {
  description = "Name of the Cloud DNS managed zone (in the same project) that holds host: the module creates the UI's A record and the certificate's DNS authorization record there. Empty: create both yourself (the dns_records output)."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.dns_zone))
    error_message = "dns_zone must be empty or a Cloud DNS managed zone name (lowercase letters, digits and hyphens, e.g. example-com), not its DNS name."
  }
}

variable "cluster_admins" {
  description = "IAM members given roles/container.admin on the project (full access to the cluster's Kubernetes API): user:, group: or serviceAccount: members. The identity running Terraform needs that access too (a project Owner has it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.cluster_admins : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])
    error_message = "cluster_admins must be IAM members such as user:ana@example.com, group:platform@example.com or serviceAccount:ci@my-project.iam.gserviceaccount.com."
  }
}

variable "create_registry" {
  description = "Create an Artifact Registry Docker repository the nodes can pull from (outputs registry_url and image_push_commands) for an image you build yourself."
  type        = bool
  default     = false
}

variable "node_machine_type" {
  description = "Machine type of the nodes."
  type        = string
  default     = "e2-standard-4"

  validation {
    condition     = can(regex("^[a-z0-9]+-[a-z0-9-]+$", var.node_machine_type))
    error_message = "node_machine_type must be a machine type such as e2-standard-4."
  }
}

variable "node_min_count" {
  description = "Fewest nodes of the node pool across its zones (the GKE cluster autoscaler never goes below)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes of the node pool across its zones (the GKE cluster autoscaler adds nodes up to this when pods are pending). At least node_min_count."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 1000."
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

variable "db_version" {
  description = "Cloud SQL PostgreSQL version."
  type        = string
  default     = "POSTGRES_18"

  validation {
    condition     = contains(["POSTGRES_14", "POSTGRES_15", "POSTGRES_16", "POSTGRES_17", "POSTGRES_18"], var.db_version)
    error_message = "db_version must be POSTGRES_14, POSTGRES_15, POSTGRES_16, POSTGRES_17 or POSTGRES_18."
  }
}

variable "db_backup_retention_count" {
  description = "Number of daily PostgreSQL backups kept."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_count >= 7 && var.db_backup_retention_count <= 365
    error_message = "db_backup_retention_count must be 7 to 365."
  }
}

variable "deletion_protection" {
  description = "Protect the cluster and the database against deletion and keep the bucket's objects on destroy. false: destroy removes everything, bucket contents included (apply with false first, then destroy)."
  type        = bool
  default     = true
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

variable "task_logs_prefix" {
  description = "Object prefix of task logs in the bucket."
  type        = string
  default     = "airflow/logs"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.task_logs_prefix))
    error_message = "task_logs_prefix must be path segments separated by single '/', without leading or trailing '/'."
  }
}

variable "task_logs_retention_days" {
  description = "Days task logs are kept in the bucket before they are deleted."
  type        = number
  default     = 365

  validation {
    condition     = var.task_logs_retention_days >= 1
    error_message = "task_logs_retention_days must be at least 1."
  }
}
