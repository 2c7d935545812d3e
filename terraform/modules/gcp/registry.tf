################################################################################
# Artifact Registry for an image you build yourself (create_registry)
################################################################################

resource "google_artifact_registry_repository" "this" {
  #checkov:skip=CKV_GCP_84:The repository holds the airdeck image only (no secrets in it); Google-managed encryption at rest applies, a customer-managed key is the user's choice.
  count = var.create_registry ? 1 : 0

  project       = var.project_id
  location      = var.region
  repository_id = "${var.name}-${random_id.suffix.hex}"
  description   = "airdeck ${var.name}: the platform image"
  format        = "DOCKER"
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  depends_on = [google_project_service.this]
}

# The nodes pull from it (their project-wide roles/artifactregistry.reader covers it too; this binding
# keeps the pull working where that project role is removed).
resource "google_artifact_registry_repository_iam_member" "nodes" {
  count = var.create_registry ? 1 : 0

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.this[0].name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.nodes.email}"
}

locals {
  registry_host = "${var.region}-docker.pkg.dev"
  registry_url  = var.create_registry ? "${local.registry_host}/${var.project_id}/${google_artifact_registry_repository.this[0].repository_id}" : ""
}
