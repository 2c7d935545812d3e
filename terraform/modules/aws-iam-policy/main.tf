################################################################################
# IAM policy documents of the workload identity (pure: no provider)
################################################################################

locals {
  issuer_host = trimprefix(var.oidc_issuer, "https://")
  # No condition (not a null one: IAM rejects it) when the whole bucket is the destination.
  list_condition = { for key, value in { Condition = { StringLike = { "s3:prefix" = ["${var.prefix}/*", var.prefix] } } } : key => value if var.prefix != "" }
  objects        = var.prefix == "" ? "${var.bucket_arn}/*" : "${var.bucket_arn}/${var.prefix}/*"

  # Only the release's service accounts that use the task log bucket, in its namespace, may assume the
  # role (IRSA): StringEquals with a list matches any one of them.
  subjects = [for sa in var.service_accounts : "system:serviceaccount:${var.namespace}:${sa}"]
  trust_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ReleaseServiceAccountsOnly"
      Effect    = "Allow"
      Principal = { Federated = var.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer_host}:sub" = local.subjects
          "${local.issuer_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  }

  # Task logs: list the prefix, read and write objects below it, use the bucket's key through S3 only.
  task_logs_policy = {
    Version = "2012-10-17"
    Statement = [
      merge({
        Sid      = "ListTaskLogPrefix"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.bucket_arn]
      }, local.list_condition),
      {
        Sid      = "ReadWriteTaskLogs"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [local.objects]
      },
      {
        Sid       = "UseBucketKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }
      },
    ]
  }
}
