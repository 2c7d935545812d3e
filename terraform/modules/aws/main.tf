################################################################################
# Names, policy documents and the key that encrypts everything
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "random_id" "suffix" {
  byte_length = 3
}

module "naming" {
  source = "../naming"

  name      = var.name
  cloud     = "aws"
  suffix    = random_id.suffix.hex
  namespace = var.namespace
}

module "policy" {
  source = "../aws-iam-policy"

  bucket_arn        = aws_s3_bucket.task_logs.arn
  prefix            = var.task_logs_prefix
  kms_key_arn       = aws_kms_key.this.arn
  region            = data.aws_region.current.name
  oidc_provider_arn = aws_iam_openid_connect_provider.this.arn
  oidc_issuer       = aws_eks_cluster.this.identity[0].oidc[0].issuer
  namespace         = var.namespace
  service_accounts  = values(module.naming.task_log_service_accounts)
}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  tags      = merge(var.tags, { "airdeck/deployment" = var.name })
}

resource "aws_kms_key" "this" {
  description         = "${var.name}: EKS secrets, RDS, ElastiCache, task logs, Secrets Manager, CloudWatch logs"
  enable_key_rotation = true
  # The shortest window AWS allows when the deployment is meant to go; a new key is made on the next apply.
  deletion_window_in_days = var.deletion_protection ? 30 : 7
  tags                    = local.tags

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account}:*" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
