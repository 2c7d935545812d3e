################################################################################
# S3 task log bucket: private, KMS-encrypted, versioned, expiring, TLS only
################################################################################

resource "aws_s3_bucket" "task_logs" {
  #checkov:skip=CKV_AWS_18:Task logs are written only by the workload role; CloudTrail data events, not a second access-log bucket, are the audit trail if one is needed.
  #checkov:skip=CKV_AWS_144:Task logs are reproducible diagnostics; cross-region replication would double the cost for no recovery need.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of task log objects.
  bucket = module.naming.bucket
  # Unprotected (the destroy path): destroy empties the bucket, every object version included.
  force_destroy = !var.deletion_protection
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "task_logs" {
  bucket                  = aws_s3_bucket.task_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "task_logs" {
  bucket = aws_s3_bucket.task_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "task_logs" {
  bucket = aws_s3_bucket.task_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "task_logs" {
  bucket = aws_s3_bucket.task_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "task_logs" {
  bucket = aws_s3_bucket.task_logs.id

  rule {
    id     = "expire-task-logs"
    status = "Enabled"
    filter {}

    expiration {
      days = var.task_logs_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# Requests without TLS are denied, whoever makes them.
resource "aws_s3_bucket_policy" "task_logs" {
  bucket = aws_s3_bucket.task_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.task_logs.arn, "${aws_s3_bucket.task_logs.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.task_logs]
}

################################################################################
# Workload identity: the release's service account, this bucket's prefix only
################################################################################

resource "aws_iam_role" "workload" {
  name               = module.naming.workload_identity
  assume_role_policy = module.policy.trust_policy_json
  tags               = local.tags
}

resource "aws_iam_role_policy" "workload" {
  name   = "task-logs"
  role   = aws_iam_role.workload.id
  policy = module.policy.task_logs_policy_json
}
