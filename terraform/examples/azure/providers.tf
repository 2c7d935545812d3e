provider "azurerm" {
  features {}
  # The storage account has no shared keys: Terraform uses Entra ID for its data plane too.
  storage_use_azuread = true
}

# Local accounts are disabled: kubelogin turns the Azure CLI's login into a cluster token. The API
# answers operator_cidrs only: run Terraform from one of them.
provider "kubernetes" {
  host                   = module.azure.cluster_endpoint
  cluster_ca_certificate = module.azure.cluster_ca_certificate
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "kubelogin"
    args        = ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
  }
}

provider "helm" {
  kubernetes {
    host                   = module.azure.cluster_endpoint
    cluster_ca_certificate = module.azure.cluster_ca_certificate
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "kubelogin"
      args        = ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]
    }
  }
}
