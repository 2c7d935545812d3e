################################################################################
# In-cluster controllers the platform needs on EKS, each with its own IRSA role:
# the AWS Load Balancer Controller (the UI's ALB) and the cluster autoscaler (2 to N nodes)
################################################################################

locals {
  oidc_issuer_host = trimprefix(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://")

  # Only the named service account in kube-system may assume each controller's role.
  controller_service_accounts = {
    load_balancer_controller = "aws-load-balancer-controller"
    cluster_autoscaler       = "cluster-autoscaler"
  }

  # The cluster autoscaler's image follows the cluster's minor version (its releases are made per
  # Kubernetes minor; the newest patch of each at the chart version pinned in variables.tf).
  cluster_autoscaler_images = {
    "1.29" = "v1.29.5", "1.30" = "v1.30.7", "1.31" = "v1.31.5", "1.32" = "v1.32.7",
    "1.33" = "v1.33.6", "1.34" = "v1.34.5", "1.35" = "v1.35.2",
  }
}

resource "aws_iam_role" "controller" {
  for_each = local.controller_service_accounts

  name = "${var.name}-${replace(each.key, "_", "-")}"
  tags = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.this.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer_host}:sub" = "system:serviceaccount:kube-system:${each.value}"
          "${local.oidc_issuer_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "load_balancer_controller" {
  #checkov:skip=CKV_AWS_290:The controller creates load balancers, target groups and security groups whose ARNs do not exist beforehand; changes and deletions are limited by conditions to resources tagged elbv2.k8s.aws/cluster (the published policy).
  #checkov:skip=CKV_AWS_355:Describe and create calls of ELB, EC2, ACM, WAF and Shield have no resource ARN to name before the controller makes the resource; the published policy scopes the rest by tag conditions.
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.controller["load_balancer_controller"].id
  policy = jsonencode(local.load_balancer_controller_policy)
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  #checkov:skip=CKV_AWS_355:The Auto Scaling group is named by EKS, not by this module; scaling is limited by condition to groups tagged k8s.io/cluster-autoscaler/<this cluster> = owned, and the rest are read-only Describe calls.
  name = "cluster-autoscaler"
  role = aws_iam_role.controller["cluster_autoscaler"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "Discover"
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ]
        Resource = "*"
      },
      {
        Sid      = "ScaleOnlyThisClustersGroups"
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = "*"
        Condition = {
          StringEquals = { "aws:ResourceTag/k8s.io/cluster-autoscaler/${aws_eks_cluster.this.name}" = "owned" }
        }
      },
    ]
  })
}

resource "helm_release" "load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.load_balancer_controller_version
  namespace  = "kube-system"
  wait       = true
  timeout    = 900

  # Region and VPC are given: the nodes' metadata service is out of the pods' reach (one hop).
  values = [yamlencode({
    clusterName  = aws_eks_cluster.this.name
    region       = local.region
    vpcId        = aws_vpc.this.id
    replicaCount = 2
    serviceAccount = {
      create      = true
      name        = local.controller_service_accounts.load_balancer_controller
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.controller["load_balancer_controller"].arn }
    }
  })]

  depends_on = [aws_eks_node_group.this, aws_iam_role_policy.load_balancer_controller, aws_eks_addon.vpc_cni]
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.cluster_autoscaler_version
  namespace  = "kube-system"
  wait       = true
  timeout    = 600

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = local.region
    autoDiscovery = { clusterName = aws_eks_cluster.this.name }
    image         = { tag = lookup(local.cluster_autoscaler_images, var.kubernetes_version, "") }
    extraArgs     = { balance-similar-node-groups = true, skip-nodes-with-system-pods = false }
    rbac = {
      serviceAccount = {
        create      = true
        name        = local.controller_service_accounts.cluster_autoscaler
        annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.controller["cluster_autoscaler"].arn }
      }
    }
  })]

  lifecycle {
    precondition {
      condition     = contains(keys(local.cluster_autoscaler_images), var.kubernetes_version)
      error_message = "kubernetes_version ${var.kubernetes_version}: no cluster autoscaler release is known to this module for it (controllers.tf, cluster_autoscaler_images); add the newest v${var.kubernetes_version}.x tag there."
    }
  }

  depends_on = [aws_eks_node_group.this, aws_iam_role_policy.cluster_autoscaler]
}
