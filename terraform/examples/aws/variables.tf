variable "region" {
  description = "AWS region of everything (e.g. eu-west-1)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "availability_zones" {
  description = "Availability zones of the subnets (2 or 3). Empty: the region's first three."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || (length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3)
    error_message = "availability_zones must be empty (the region's first three) or list 2 or 3 zones."
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
  description = "Your networks as IPv4 CIDR blocks (e.g. your office's range, or your address as a.b.c.d/32): the only addresses that reach the cluster's API (for this apply) and the UI's load balancer. Required; never 0.0.0.0/0."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) > 0 && alltrue([for c in var.operator_cidrs : can(cidrhost(c, 0)) && !strcontains(c, ":") && c != "0.0.0.0/0"])
    error_message = "operator_cidrs must list your networks as CIDR blocks (e.g. [\"203.0.113.7/32\"]), IPv4 (EKS public endpoints and IPv4 ALBs take IPv4 ranges only), never 0.0.0.0/0."
  }
}

variable "host" {
  description = "Host name of the UI (e.g. airflow.example.com): the ALB's certificate is for it and ui_url is https://<host>."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name such as airflow.example.com."
  }
}

variable "dns_zone" {
  description = "Name of the public Route 53 hosted zone that host belongs to (e.g. example.com): the apply validates the certificate and points host at the ALB. Empty: create the two DNS records yourself (docs/cloud.md, AWS)."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}\\.?$", var.dns_zone))
    error_message = "dns_zone must be a DNS zone name such as example.com (or empty)."
  }
}

variable "internal_load_balancer" {
  description = "Serve the UI from an internal ALB (reachable inside the VPC and its peered networks only) instead of an internet-facing one restricted to operator_cidrs."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the data: RDS deletion protection and final snapshot, buckets and registry kept on destroy, secrets recoverable. To remove everything: apply with false, then destroy (docs/cloud.md, AWS)."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper; egress stops if its zone fails) instead of one per zone."
  type        = bool
  default     = false
}

variable "node_instance_type" {
  description = "EC2 instance type of the nodes (amd64 such as m6i.xlarge, or Graviton such as m7g.xlarge)."
  type        = string
  default     = "m6i.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.node_instance_type))
    error_message = "node_instance_type must be an EC2 instance type such as m6i.xlarge."
  }
}

variable "node_min_count" {
  description = "Fewest nodes (the cluster autoscaler never goes below)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes (the cluster autoscaler adds nodes up to this while pods are pending)."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 100 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 100 (and at least node_min_count)."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of PostgreSQL (e.g. db.m6g.large; db.t4g.medium for a trial)."
  type        = string
  default     = "db.m6g.large"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS class such as db.m6g.large."
  }
}

variable "cache_node_type" {
  description = "ElastiCache node type of Redis (e.g. cache.m6g.large; cache.t4g.small for a trial)."
  type        = string
  default     = "cache.m6g.large"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.cache_node_type))
    error_message = "cache_node_type must be an ElastiCache node type such as cache.m6g.large."
  }
}

variable "cluster_admins" {
  description = "IAM role or user ARNs given cluster-admin through EKS access entries, besides the identity that runs this apply (which has it already: do not list it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.cluster_admins : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "cluster_admins must be IAM role or user ARNs (arn:aws:iam::123456789012:role/platform-admins)."
  }
}

variable "create_registry" {
  description = "Create an ECR repository for your own image, which the nodes can pull; the registry_url and image_push_commands outputs say how to push, then set image."
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
