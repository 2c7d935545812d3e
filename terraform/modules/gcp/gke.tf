################################################################################
# GKE: private nodes, API open to operator_cidrs, Workload Identity, shielded nodes, Dataplane V2
################################################################################

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = "${substr(var.name, 0, 24)}-nodes"
  display_name = "${var.name}: GKE nodes"
}

# The nodes' minimal roles (logs, metrics, image pulls), never the default compute account.
resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Workspace domain and a gke-security-groups group that the module cannot create; bind users in Kubernetes RBAC instead.
  #checkov:skip=CKV_GCP_12:NetworkPolicies are enforced by Dataplane V2 (datapath_provider ADVANCED_DATAPATH); GKE refuses the Calico network_policy block alongside it, which is all this check looks for.
  #checkov:skip=CKV_GCP_24:PodSecurityPolicy was removed from Kubernetes (1.25); the chart's pods set restricted security contexts themselves.
  #checkov:skip=CKV_GCP_66:Binary Authorization needs an attestor and a signing pipeline for the airdeck image, which are the user's; the cluster evaluates the project's policy (evaluation_mode PROJECT_SINGLETON_POLICY_ENFORCE).
  project                     = var.project_id
  name                        = module.naming.cluster
  location                    = var.region
  network                     = google_compute_network.this.id
  subnetwork                  = google_compute_subnetwork.this.id
  remove_default_node_pool    = true
  initial_node_count          = 1
  deletion_protection         = var.deletion_protection
  enable_shielded_nodes       = true
  enable_intranode_visibility = true
  resource_labels             = merge({ "airdeck-deployment" = var.name }, var.labels)

  release_channel {
    channel = "REGULAR"
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  # Private nodes; the control plane's public endpoint answers only operator_cidrs (and the VPC), so
  # the apply that creates the cluster can also install the release from the operator's laptop.
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = var.master_ipv4_cidr_block
  }

  master_authorized_networks_config {
    gcp_public_cidrs_access_enabled = false

    dynamic "cidr_blocks" {
      for_each = var.operator_cidrs
      content {
        cidr_block   = cidr_blocks.value
        display_name = "operator-${cidr_blocks.key}"
      }
    }
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  # Dataplane V2 (eBPF) enforces NetworkPolicies itself; the Calico add-on must stay off with it.
  datapath_provider = "ADVANCED_DATAPATH"

  addons_config {
    http_load_balancing {
      disabled = false
    }
    network_policy_config {
      disabled = true
    }
  }

  # The Gateway API (GKE's gateway classes, GCPBackendPolicy, HealthCheckPolicy) serves the UI.
  gateway_api_config {
    channel = "CHANNEL_STANDARD"
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  node_config {
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  lifecycle {
    # The default pool is removed right after creation; its node_config is only its template.
    ignore_changes = [node_config]
  }

  depends_on = [google_project_service.this]
}

resource "google_container_node_pool" "this" {
  project  = var.project_id
  name     = "default"
  location = var.region
  cluster  = google_container_cluster.this.name

  # The managed cluster autoscaler: totals across the region's zones.
  autoscaling {
    total_min_node_count = var.node_min_count
    total_max_node_count = var.node_max_count
    location_policy      = "BALANCED"
  }

  lifecycle {
    precondition {
      condition     = var.node_min_count <= var.node_max_count
      error_message = "node_min_count (${var.node_min_count}) must not exceed node_max_count (${var.node_max_count})."
    }
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.node_machine_type
    image_type      = "COS_CONTAINERD"
    disk_size_gb    = 100
    disk_type       = "pd-balanced"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = local.labels

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}

# Cluster administrators: roles/container.admin (every Kubernetes object of the project's clusters).
resource "google_project_iam_member" "cluster_admins" {
  for_each = toset(var.cluster_admins)

  project = var.project_id
  role    = "roles/container.admin"
  member  = each.value
}
