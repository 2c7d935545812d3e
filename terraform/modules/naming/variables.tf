variable "name" {
  description = "Name of the deployment: prefix of every cloud object. 3 to 16 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (it becomes part of bucket, storage account and Key Vault names)."
  }
}

variable "cloud" {
  description = "The cloud the names are for. Valid values are `aws`, `gcp` and `azure`."
  type        = string

  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud)
    error_message = "cloud must be one of aws, gcp or azure."
  }
}

variable "suffix" {
  description = "Random suffix that makes globally unique names (buckets, storage accounts, Key Vaults) unique: 4 to 8 lowercase letters or digits."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{4,8}$", var.suffix))
    error_message = "suffix must be 4 to 8 lowercase letters or digits (e.g. random_id.hex)."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the airdeck release."
  type        = string
  default     = "airflow"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label: lowercase letters, digits and hyphens, at most 63 characters."
  }
}
