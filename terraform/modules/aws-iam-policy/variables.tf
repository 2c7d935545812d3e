variable "bucket_arn" {
  description = "ARN of the task log bucket (arn:aws:s3:::name)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN (arn:aws:s3:::bucket-name)."
  }
}

variable "prefix" {
  description = "Key prefix under which task logs are written; the identity may touch only objects below it. Empty: the whole bucket."
  type        = string
  default     = "airflow/logs"

  validation {
    condition     = can(regex("^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$", var.prefix))
    error_message = "prefix must be empty or path segments of letters, digits, '.', '_' and '-' separated by single '/' (no leading or trailing '/', no wildcards)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the bucket; the identity may use it only through S3."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:region:account:key/id)."
  }
}

variable "region" {
  description = "AWS region of the bucket and key (for the kms:ViaService condition)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name (e.g. eu-west-1)."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be an IAM OIDC provider ARN (arn:aws:iam::account:oidc-provider/host/path)."
  }
}

variable "oidc_issuer" {
  description = "The cluster's OIDC issuer URL (https://oidc.eks.region.amazonaws.com/id/...)."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+(/.*)?$", var.oidc_issuer))
    error_message = "oidc_issuer must be an https:// URL."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the service account allowed to assume the role."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "service_accounts" {
  description = "Names of the Kubernetes service accounts allowed to assume the role (in namespace): the components that use the task log bucket."
  type        = list(string)

  validation {
    condition     = length(var.service_accounts) > 0 && alltrue([for sa in var.service_accounts : can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", sa))])
    error_message = "service_accounts must be one or more DNS-1123 subdomains (Kubernetes service account names)."
  }
}
