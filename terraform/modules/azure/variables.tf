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

variable "pod_cidr" {
  description = "Address space of the pods (Azure CNI Overlay: outside the VNet, never routed to it)."
  type        = string
  default     = "10.244.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.pod_cidr)) && tonumber(split("/", var.pod_cidr)[1]) <= 20
    error_message = "pod_cidr must be an IPv4 CIDR block of /20 or larger."
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

variable "operator_cidrs" {
  description = "IPv4 networks (CIDR) of the people and machines that run Terraform and use the UI: the only sources the AKS API (authorized IP ranges), the UI's load balancer and the Key Vault's data plane (Terraform writes the secrets) accept. 1 to 200 blocks, never /0."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) >= 1 && length(var.operator_cidrs) <= 200 && alltrue([for c in var.operator_cidrs : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "operator_cidrs must be 1 to 200 IPv4 CIDR blocks such as 203.0.113.7/32, none of them /0 (that would open the cluster API and the UI to the world)."
  }
}

variable "host" {
  description = "Host name of the UI (e.g. airflow.example.com): the Ingress host, the certificate's name and, with dns_zone, the DNS record."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name in lowercase (e.g. airflow.example.com)."
  }
}

variable "dns_zone" {
  description = "Resource id of the Azure DNS zone holding host (az network dns zone show -g RG -n ZONE --query id -o tsv): the module creates the UI's A record there and cert-manager's identity may answer Let's Encrypt's DNS-01 challenges in it. Empty: create the A record and the TLS Secret yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.Network/dnszones/[^/]+$", var.dns_zone))
    error_message = "dns_zone must be empty or the resource id of an Azure DNS zone: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/dnszones/<zone>."
  }
}

variable "cluster_admins" {
  description = "Object ids of the Entra ID groups that administer the cluster (Azure RBAC, local accounts disabled). At least one: without it only the identity running Terraform (which the module also makes cluster admin) can use the cluster."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admins) >= 1 && alltrue([for id in var.cluster_admins : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "cluster_admins must hold at least one Entra ID group object id (a UUID: az ad group show --group NAME --query id -o tsv)."
  }
}

variable "create_registry" {
  description = "Create an Azure Container Registry the kubelet identity may pull from (outputs registry_url and image_push_commands) for an image you build yourself."
  type        = bool
  default     = false
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

variable "node_min_count" {
  description = "Fewest nodes of the workload pool (the AKS cluster autoscaler never goes below)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes of the workload pool (the AKS cluster autoscaler adds nodes up to this when pods are pending). At least node_min_count."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 1000."
  }
}

variable "db_sku_name" {
  description = "SKU of the PostgreSQL Flexible Server (General Purpose or Memory Optimized: zone-redundant HA is not offered on Burstable)."
  type        = string
  default     = "GP_Standard_D2ds_v5"

  validation {
    condition     = can(regex("^(GP|MO)_Standard_[A-Za-z0-9_]+$", var.db_sku_name))
    error_message = "db_sku_name must be a General Purpose (GP_...) or Memory Optimized (MO_...) SKU."
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

variable "cache_sku_name" {
  description = "Azure Cache for Redis SKU: `Standard` (family C) or `Premium` (family P). Basic has no SLA and no replica."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.cache_sku_name)
    error_message = "cache_sku_name must be Standard or Premium."
  }
}

variable "cache_capacity" {
  description = "Size of the cache within its SKU: 0 to 6 for Standard (C0 = 250 MB ... C6 = 53 GB), 1 to 5 for Premium."
  type        = number
  default     = 1

  validation {
    condition     = var.cache_capacity >= 0 && var.cache_capacity <= 6 && floor(var.cache_capacity) == var.cache_capacity
    error_message = "cache_capacity must be a whole number from 0 to 6."
  }
}

variable "deletion_protection" {
  description = "Put CanNotDelete locks on the database and the Key Vault. To remove everything: apply with false (removes the locks), then destroy."
  type        = bool
  default     = true
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
