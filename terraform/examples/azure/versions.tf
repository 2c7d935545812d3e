terraform {
  required_version = ">= 1.7"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.9"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
  }

  # The state holds every generated secret: keep it in a storage account, not on a laptop. Create it once
  # (az group create -n tfstate -l westeurope; az storage account create -n ACCOUNT -g tfstate --sku
  # Standard_ZRS --min-tls-version TLS1_2 --allow-blob-public-access false; az storage container
  # create -n tfstate --account-name ACCOUNT --auth-mode login), uncomment, then terraform init
  # -migrate-state. The azurerm backend locks the state with a blob lease.
  # backend "azurerm" {
  #   resource_group_name  = "tfstate"
  #   storage_account_name = "ACCOUNT"
  #   container_name       = "tfstate"
  #   key                  = "airdeck/azure.tfstate"
  #   use_azuread_auth     = true
  # }
}
