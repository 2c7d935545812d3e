variable "region" {
  description = "AWS region of everything (e.g. eu-west-1)."
  type        = string
  default     = "eu-west-1"
}

variable "availability_zones" {
  description = "Availability zones of the region (2 or 3)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "name" {
  description = "Name of the deployment (prefix of every object)."
  type        = string
  default     = "airdeck"
}

variable "endpoint_public_access" {
  description = "Expose the cluster's API on the internet, restricted to endpoint_public_access_cidrs."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "Your address(es) in CIDR form, allowed to reach a public cluster API."
  type        = list(string)
  default     = []
}

variable "host" {
  description = "Host name of the UI (an internal ALB serves it; point DNS at it and give the ACM certificate ARN)."
  type        = string
  default     = "airflow.example.com"
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate of host, for the ALB's HTTPS listener."
  type        = string
  default     = ""
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
