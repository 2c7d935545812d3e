################################################################################
# Optional ECR repository for your own airdeck image: scanned, immutable tags, KMS, pruned
################################################################################

resource "aws_ecr_repository" "airdeck" {
  count = var.create_registry ? 1 : 0

  name                 = "${var.name}/airdeck"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = !var.deletion_protection
  tags                 = local.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }
}

resource "aws_ecr_lifecycle_policy" "airdeck" {
  count = var.create_registry ? 1 : 0

  repository = aws_ecr_repository.airdeck[0].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged layers and manifests (superseded multi-arch parts) go after 14 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 14 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the 30 newest tagged images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
        action       = { type = "expire" }
      },
    ]
  })
}

# The nodes pull (the kubelet uses the node role); nobody else is granted anything here.
resource "aws_ecr_repository_policy" "airdeck" {
  count = var.create_registry ? 1 : 0

  repository = aws_ecr_repository.airdeck[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "NodesPull"
      Effect    = "Allow"
      Principal = { AWS = aws_iam_role.node.arn }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    }]
  })
}
