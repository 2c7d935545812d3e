variable "name" {
  description = "Name of the deployment: prefix of every object. 3 to 16 lowercase letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Azure region of everything (e.g. westeurope). Zone-redundant PostgreSQL needs a region with availability zones."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name such as westeurope (lowercase, no spaces)."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the airdeck release (the federated credential trusts its service account only)."
  type        = string
  default     = "airflow"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vnet_cidr" {
  description = "Address space of the virtual network (/16 recommended)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vnet_cidr, 0)) && tonumber(split("/", var.vnet_cidr)[1]) <= 18
    error_message = "vnet_cidr must be a CIDR block of /18 or larger."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version of AKS (null: the region's default)."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^1\\.(29|3[0-9])(\\.[0-9]+)?$", var.kubernetes_version))
    error_message = "kubernetes_version must be 1.29 or later (e.g. 1.33), or null."
  }
}

variable "private_cluster_enabled" {
  description = "Serve the API server on a private address only (reach it from the VNet, a VPN or a bastion)."
  type        = bool
  default     = true
}

variable "admin_group_object_ids" {
  description = "Object ids of the Entra ID groups that administer the cluster (Azure RBAC; local accounts are disabled)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.admin_group_object_ids : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "admin_group_object_ids must be object ids (UUIDs)."
  }
}

variable "system_node_vm_size" {
  description = "VM size of the system node pool (critical add-ons only)."
  type        = string
  default     = "Standard_D2ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.system_node_vm_size))
    error_message = "system_node_vm_size must be a VM size such as Standard_D2ds_v5."
  }
}

variable "node_vm_size" {
  description = "VM size of the workload node pool."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.node_vm_size))
    error_message = "node_vm_size must be a VM size such as Standard_D4ds_v5."
  }
}

variable "node_count" {
  description = "Nodes of the workload pool: min and max (autoscaled)."
  type = object({
    min = number
    max = number
  })
  default = { min = 2, max = 6 }

  validation {
    condition     = var.node_count.min >= 1 && var.node_count.min <= var.node_count.max
    error_message = "node_count must satisfy 1 <= min <= max."
  }
}

variable "postgres_sku" {
  description = "SKU of the PostgreSQL Flexible Server (General Purpose or Memory Optimized: zone-redundant HA is not offered on Burstable)."
  type        = string
  default     = "GP_Standard_D2ds_v5"

  validation {
    condition     = can(regex("^(GP|MO)_Standard_[A-Za-z0-9_]+$", var.postgres_sku))
    error_message = "postgres_sku must be a General Purpose (GP_...) or Memory Optimized (MO_...) SKU."
  }
}

variable "postgres_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "17"

  validation {
    condition     = contains(["14", "15", "16", "17", "18"], var.postgres_version)
    error_message = "postgres_version must be 14, 15, 16, 17 or 18 (the versions Airflow 3.3 supports)."
  }
}

variable "postgres_storage_mb" {
  description = "Storage of PostgreSQL in MB."
  type        = number
  default     = 65536

  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.postgres_storage_mb)
    error_message = "postgres_storage_mb must be a Flexible Server storage size (32768, 65536, 131072, ...)."
  }
}

variable "postgres_backup_retention_days" {
  description = "Days of PostgreSQL backups."
  type        = number
  default     = 14

  validation {
    condition     = var.postgres_backup_retention_days >= 7 && var.postgres_backup_retention_days <= 35
    error_message = "postgres_backup_retention_days must be 7 to 35."
  }
}

variable "redis_sku" {
  description = "Azure Cache for Redis SKU, family and capacity. Valid SKUs are `Standard` (family C) and `Premium` (family P)."
  type = object({
    name     = string
    family   = string
    capacity = number
  })
  default = { name = "Standard", family = "C", capacity = 1 }

  validation {
    condition     = (var.redis_sku.name == "Standard" && var.redis_sku.family == "C") || (var.redis_sku.name == "Premium" && var.redis_sku.family == "P")
    error_message = "redis_sku must be Standard with family C or Premium with family P (Basic has no SLA and no replica)."
  }
}

variable "deletion_protection" {
  description = "Put CanNotDelete locks on the database and the Key Vault (remove them, apply, then destroy to remove everything)."
  type        = bool
  default     = true
}

variable "key_vault_allowed_ip_ranges" {
  description = "Public addresses (CIDR) allowed to reach the Key Vault's data plane: where Terraform runs, since it writes the secrets. Pods reach it through its private endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.key_vault_allowed_ip_ranges : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "key_vault_allowed_ip_ranges must be CIDR blocks other than 0.0.0.0/0."
  }
}

variable "task_logs_prefix" {
  description = "Blob prefix of task logs in the container."
  type        = string
  default     = "airflow/logs"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.task_logs_prefix))
    error_message = "task_logs_prefix must be path segments separated by single '/', without leading or trailing '/'."
  }
}

variable "task_logs_retention_days" {
  description = "Days task logs are kept before they are deleted."
  type        = number
  default     = 365

  validation {
    condition     = var.task_logs_retention_days >= 1
    error_message = "task_logs_retention_days must be at least 1."
  }
}
