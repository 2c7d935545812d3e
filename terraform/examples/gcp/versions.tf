terraform {
  required_version = ">= 1.7"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
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

  # The state holds every generated secret: keep it in a bucket, not on a laptop. Create the bucket once
  # (gcloud storage buckets create gs://BUCKET --location=REGION --uniform-bucket-level-access
  # --public-access-prevention; gcloud storage buckets update gs://BUCKET --versioning), uncomment,
  # then terraform init -migrate-state. GCS locks the state itself.
  # backend "gcs" {
  #   bucket = "BUCKET"
  #   prefix = "airdeck/gcp"
  # }
}
