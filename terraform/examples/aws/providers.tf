provider "aws" {
  region = var.region
}

# The cluster's API is private by default: run Terraform from inside the VPC (VPN, bastion, CI
# runner), or set endpoint_public_access_cidrs to your address.
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
