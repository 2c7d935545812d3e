provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

# The control plane's public endpoint answers operator_cidrs only: run Terraform from one of them.
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
