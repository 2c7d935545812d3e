terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0"
    }
    # The Load Balancer Controller and the cluster autoscaler (values only: the same in helm 2.17 and 3.x).
    helm = {
      source  = "hashicorp/helm"
      version = ">= 2.17, < 4.0"
    }
  }
}
