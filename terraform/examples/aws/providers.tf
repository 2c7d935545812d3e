provider "aws" {
  region = var.region
}

# The cluster's API endpoint is private and, for operator_cidrs only, public: this apply, run from one
# of those networks, reaches the cluster it creates. The token comes from the AWS CLI (aws eks get-token).
provider "kubernetes" {
  host                   = module.aws.cluster_endpoint
  cluster_ca_certificate = module.aws.cluster_ca_certificate
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--region", var.region, "--cluster-name", module.aws.cluster_name]
  }
}

provider "helm" {
  kubernetes {
    host                   = module.aws.cluster_endpoint
    cluster_ca_certificate = module.aws.cluster_ca_certificate
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--region", var.region, "--cluster-name", module.aws.cluster_name]
    }
  }
}
