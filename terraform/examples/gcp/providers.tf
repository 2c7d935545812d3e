provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

# The control plane is private by default: run Terraform from inside the VPC (VPN, bastion, CI
# runner) or set enable_private_endpoint = false and master_authorized_networks.
provider "kubernetes" {
  host                   = module.gcp.cluster_endpoint
  cluster_ca_certificate = module.gcp.cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "helm" {
  kubernetes {
    host                   = module.gcp.cluster_endpoint
    cluster_ca_certificate = module.gcp.cluster_ca_certificate
    token                  = data.google_client_config.current.access_token
  }
}
