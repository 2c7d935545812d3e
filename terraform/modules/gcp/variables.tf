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

variable "enable_private_endpoint" {
  description = "Serve the control plane on its private address only (reach it from the VPC, a VPN or a bastion). false: its public address, open only to master_authorized_networks."
  type        = bool
  default     = true
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the control plane, with a display name each."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []

  validation {
    condition     = alltrue([for n in var.master_authorized_networks : can(cidrhost(n.cidr_block, 0)) && n.cidr_block != "0.0.0.0/0"])
    error_message = "master_authorized_networks must be CIDR blocks other than 0.0.0.0/0."
  }
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

variable "node_count" {
  description = "Nodes per zone of the node pool: min and max (autoscaled)."
  type = object({
    min = number
    max = number
  })
  default = { min = 1, max = 3 }

  validation {
    condition     = var.node_count.min >= 1 && var.node_count.min <= var.node_count.max
    error_message = "node_count must satisfy 1 <= min <= max."
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
  description = "Protect the cluster and the database against deletion (turn off, apply, then destroy to remove everything)."
  type        = bool
  default     = true
}

variable "redis_memory_size_gb" {
  description = "Memory of the Memorystore Redis instance in GB."
  type        = number
  default     = 5

  validation {
    condition     = var.redis_memory_size_gb >= 1 && var.redis_memory_size_gb <= 300
    error_message = "redis_memory_size_gb must be 1 to 300."
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
