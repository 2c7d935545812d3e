variable "location" {
  description = "Azure region (with availability zones)."
  type        = string
  default     = "westeurope"
}

variable "name" {
  description = "Name of the deployment (prefix of every object)."
  type        = string
  default     = "airdeck"
}

variable "admin_group_object_ids" {
  description = "Entra ID groups that administer the cluster."
  type        = list(string)
  default     = []
}

variable "key_vault_allowed_ip_ranges" {
  description = "Your public address(es) in CIDR form: Terraform writes the secrets into Key Vault from there."
  type        = list(string)
  default     = []
}

variable "host" {
  description = "Host name of the UI (point DNS at the application routing load balancer)."
  type        = string
  default     = "airflow.example.com"
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
