################################################################################
# ElastiCache Redis: TLS in transit, AUTH token, encrypted at rest, Multi-AZ
################################################################################

resource "random_password" "cache" {
  length  = 64
  special = false
}

resource "aws_elasticache_subnet_group" "this" {
  name       = module.naming.cache
  subnet_ids = aws_subnet.private[*].id
  tags       = local.tags
}

resource "aws_security_group" "cache" {
  name        = "${var.name}-redis"
  description = "Redis: reachable from the EKS nodes only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "cache" {
  security_group_id            = aws_security_group.cache.id
  description                  = "Redis from the EKS cluster's nodes and pods"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = module.naming.cache
  description          = "${var.name}: Celery broker"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.cache_node_type
  num_cache_clusters   = 2
  port                 = 6379

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.cache.id]

  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.cache.result
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 1

  tags = local.tags
}
