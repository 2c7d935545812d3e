variable "location" {
  description = "Azure region with availability zones (e.g. westeurope)."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name such as westeurope (az account list-locations -o table)."
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
  description = "Your networks (IPv4 CIDR, e.g. [\"203.0.113.7/32\"]): the only sources the AKS API, the UI and the Key Vault (Terraform writes the secrets) accept."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) >= 1 && length(var.operator_cidrs) <= 200 && alltrue([for c in var.operator_cidrs : can(cidrnetmask(c)) && !endswith(c, "/0")])
    error_message = "operator_cidrs must be 1 to 200 IPv4 CIDR blocks such as 203.0.113.7/32 (curl -4 ifconfig.me prints your address), none of them /0."
  }
}

variable "host" {
  description = "Host name of the UI (e.g. airflow.example.com)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name in lowercase (e.g. airflow.example.com)."
  }
}

variable "dns_zone" {
  description = "Resource id of the Azure DNS zone holding host (az network dns zone show -g RG -n ZONE --query id -o tsv): the A record is created and cert-manager gets a Let's Encrypt certificate through it. Empty: create both yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.Network/dnszones/[^/]+$", var.dns_zone))
    error_message = "dns_zone must be empty or the resource id of an Azure DNS zone: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/dnszones/<zone>."
  }
}

variable "acme_email" {
  description = "E-mail Let's Encrypt writes to about the certificate (expiry problems); empty: none. Used with dns_zone only."
  type        = string
  default     = ""

  validation {
    condition     = var.acme_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", var.acme_email))
    error_message = "acme_email must be empty or an e-mail address."
  }
}

variable "deletion_protection" {
  description = "CanNotDelete locks on the database and the Key Vault. To remove everything: apply with false, then destroy."
  type        = bool
  default     = true
}

variable "cluster_admins" {
  description = "Object ids of the Entra ID groups that administer the cluster (at least one; az ad group show --group NAME --query id -o tsv)."
  type        = list(string)

  validation {
    condition     = length(var.cluster_admins) >= 1 && alltrue([for id in var.cluster_admins : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "cluster_admins must hold at least one Entra ID group object id (a UUID)."
  }
}

variable "node_min_count" {
  description = "Fewest nodes of the workload pool."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes of the workload pool (the AKS cluster autoscaler adds nodes up to this)."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 1000 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 1000 (and at least node_min_count)."
  }
}

variable "node_vm_size" {
  description = "VM size of the workload nodes (e.g. Standard_D4ds_v5; Standard_D4pds_v5 for arm64)."
  type        = string
  default     = "Standard_D4ds_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.node_vm_size))
    error_message = "node_vm_size must be a VM size such as Standard_D4ds_v5."
  }
}

variable "db_sku_name" {
  description = "SKU of the PostgreSQL Flexible Server (General Purpose or Memory Optimized)."
  type        = string
  default     = "GP_Standard_D2ds_v5"

  validation {
    condition     = can(regex("^(GP|MO)_Standard_[A-Za-z0-9_]+$", var.db_sku_name))
    error_message = "db_sku_name must be a General Purpose (GP_...) or Memory Optimized (MO_...) SKU."
  }
}

variable "cache_sku_name" {
  description = "Azure Cache for Redis SKU: Standard or Premium."
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

variable "create_registry" {
  description = "Create an Azure Container Registry the nodes pull from (outputs registry_url and image_push_commands)."
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
