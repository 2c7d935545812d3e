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

variable "operator_cidrs" {
  description = "The operators' networks (IPv4 CIDR blocks): the only addresses that reach the cluster's public API endpoint and, through the example's Ingress, the UI. Empty: the API endpoint is private only (reach it from inside the VPC)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.operator_cidrs : can(cidrhost(c, 0)) && !strcontains(c, ":") && c != "0.0.0.0/0"])
    error_message = "operator_cidrs must be CIDR blocks of your networks (e.g. 203.0.113.0/24), IPv4 (EKS public endpoints and IPv4 ALBs take IPv4 ranges only), never 0.0.0.0/0."
  }
}

variable "cluster_admins" {
  description = "IAM principal ARNs (roles or users) given cluster-admin on the cluster through EKS access entries (AmazonEKSClusterAdminPolicy), besides the identity that runs Terraform, which has it already."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.cluster_admins : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "cluster_admins must be IAM role or user ARNs (arn:aws:iam::123456789012:role/platform-admins)."
  }
}

variable "node_instance_type" {
  description = "EC2 instance type of the managed node group (amd64 such as m6i.xlarge, or Graviton such as m7g.xlarge: the image is built for both)."
  type        = string
  default     = "m6i.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.node_instance_type))
    error_message = "node_instance_type must be an EC2 instance type such as m6i.xlarge."
  }
}

variable "node_min_count" {
  description = "Fewest nodes of the managed node group (the cluster autoscaler never goes below)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min_count >= 1 && floor(var.node_min_count) == var.node_min_count
    error_message = "node_min_count must be a whole number of at least 1."
  }
}

variable "node_max_count" {
  description = "Most nodes of the managed node group (the cluster autoscaler adds nodes up to this when pods are pending)."
  type        = number
  default     = 6

  validation {
    condition     = var.node_max_count >= 1 && var.node_max_count <= 100 && floor(var.node_max_count) == var.node_max_count
    error_message = "node_max_count must be a whole number from 1 to 100 (and at least node_min_count)."
  }
}

variable "host" {
  description = "Host name of the UI: the ACM certificate is requested for it. Empty: no certificate (no Ingress)."
  type        = string
  default     = ""

  validation {
    condition     = var.host == "" || can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.host))
    error_message = "host must be a fully qualified DNS name such as airflow.example.com."
  }
}

variable "dns_zone" {
  description = "Name of the public Route 53 hosted zone host is in (e.g. example.com). Given: the module validates the certificate through it (and the example creates the UI's record). Empty: create the validation record shown by the certificate_validation_records output yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone == "" || can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}\\.?$", var.dns_zone))
    error_message = "dns_zone must be a DNS zone name such as example.com."
  }
}

variable "create_registry" {
  description = "Create an ECR repository (<name>/airdeck: scan on push, immutable tags, KMS, lifecycle) the nodes pull from; see the registry_url and image_push_commands outputs."
  type        = bool
  default     = false
}

variable "load_balancer_controller_version" {
  description = "Version of the aws-load-balancer-controller Helm chart (eks-charts); its IAM policy in load-balancer-controller.tf is the one published for v3.5.0 (unchanged since v2.12)."
  type        = string
  default     = "3.5.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.load_balancer_controller_version))
    error_message = "load_balancer_controller_version must be a chart version such as 3.5.0."
  }
}

variable "cluster_autoscaler_version" {
  description = "Version of the cluster-autoscaler Helm chart (kubernetes.github.io/autoscaler); the autoscaler's image follows kubernetes_version."
  type        = string
  default     = "9.59.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.cluster_autoscaler_version))
    error_message = "cluster_autoscaler_version must be a chart version such as 9.59.0."
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
  description = "Protect the data against deletion: RDS deletion protection and a final snapshot, buckets and registry not emptied on destroy, secrets recoverable for secret_recovery_window_days. false (then apply, then destroy): everything goes, nothing is left behind, and the next apply starts fresh."
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
