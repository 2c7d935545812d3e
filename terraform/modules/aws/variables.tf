variable "name" {
  description = "Name of the deployment: prefix of every object. 3 to 16 lowercase letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the airdeck release (the workload role trusts its service account only)."
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

variable "vpc_cidr" {
  description = "CIDR block of the VPC (/16 recommended: three private and three public subnets are carved from it)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a CIDR block of /20 or larger (e.g. 10.0.0.0/16)."
  }
}

variable "availability_zones" {
  description = "Availability zones of the subnets (2 or 3; the database and the cache fail over between them)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "availability_zones must list 2 or 3 zones of the region."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper; egress stops if its zone fails) instead of one per zone."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.(29|3[0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be 1.29 or later (the chart needs >= 1.29), e.g. 1.33."
  }
}

variable "endpoint_public_access" {
  description = "Expose the cluster's API endpoint on the internet (restricted to endpoint_public_access_cidrs). Default: private only, reached from the VPC (VPN, bastion)."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach a public API endpoint. Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be CIDR blocks other than 0.0.0.0/0."
  }
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.xlarge"]

  validation {
    condition     = length(var.node_instance_types) > 0 && alltrue([for t in var.node_instance_types : can(regex("^[a-z0-9-]+\\.[a-z0-9]+$", t))])
    error_message = "node_instance_types must list EC2 instance types such as m6i.xlarge."
  }
}

variable "node_count" {
  description = "Nodes of the managed node group: desired, min and max."
  type = object({
    desired = number
    min     = number
    max     = number
  })
  default = { desired = 3, min = 2, max = 6 }

  validation {
    condition     = var.node_count.min >= 1 && var.node_count.min <= var.node_count.desired && var.node_count.desired <= var.node_count.max
    error_message = "node_count must satisfy 1 <= min <= desired <= max."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of PostgreSQL."
  type        = string
  default     = "db.m6g.large"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS class such as db.m6g.large."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "17"

  validation {
    condition     = contains(["14", "15", "16", "17", "18"], var.db_engine_version)
    error_message = "db_engine_version must be 14, 15, 16, 17 or 18 (the versions Airflow 3.3 supports)."
  }
}

variable "db_allocated_storage" {
  description = "Storage of PostgreSQL in GiB (autoscaling up to four times this)."
  type        = number
  default     = 50

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 16384
    error_message = "db_allocated_storage must be 20 to 16384 GiB."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated PostgreSQL backups."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 7 to 35."
  }
}

variable "deletion_protection" {
  description = "Protect the database against deletion (turn off, apply, then destroy to remove everything)."
  type        = bool
  default     = true
}

variable "cache_node_type" {
  description = "ElastiCache node type of Redis."
  type        = string
  default     = "cache.m6g.large"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.cache_node_type))
    error_message = "cache_node_type must be an ElastiCache node type such as cache.m6g.large."
  }
}

variable "task_logs_prefix" {
  description = "Key prefix of task logs in the bucket."
  type        = string
  default     = "airflow/logs"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.task_logs_prefix))
    error_message = "task_logs_prefix must be path segments separated by single '/', without leading or trailing '/'."
  }
}

variable "task_logs_retention_days" {
  description = "Days task logs are kept in the bucket before they expire."
  type        = number
  default     = 365

  validation {
    condition     = var.task_logs_retention_days >= 1
    error_message = "task_logs_retention_days must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Days the cluster's control-plane logs and the VPC flow logs are kept in CloudWatch."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, ...)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be recovered from Secrets Manager."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30
    error_message = "secret_recovery_window_days must be 7 to 30."
  }
}
