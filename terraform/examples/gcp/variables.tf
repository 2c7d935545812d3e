variable "project_id" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Google Cloud region of everything (e.g. europe-west1)."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Name of the deployment (prefix of every object)."
  type        = string
  default     = "airdeck"
}

variable "host" {
  description = "Host name of the UI (an internal load balancer serves it; point DNS at it)."
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
