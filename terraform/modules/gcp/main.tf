################################################################################
# Names and the project's APIs
################################################################################

resource "random_id" "suffix" {
  byte_length = 3
}

module "naming" {
  source = "../naming"

  name      = var.name
  cloud     = "gcp"
  suffix    = random_id.suffix.hex
  namespace = var.namespace
}

locals {
  labels = merge(var.labels, { "airdeck-deployment" = var.name })
  # Google Front Ends and health checkers of the global external Application Load Balancer.
  load_balancer_cidrs = ["35.191.0.0/16", "130.211.0.0/22"]
  # The chart's api-server port (airdeck.api_server.port, default 8080).
  api_port = 8080
}

resource "google_project_service" "this" {
  for_each = toset([
    "compute.googleapis.com",
    "container.googleapis.com",
    "sqladmin.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "certificatemanager.googleapis.com",
    "dns.googleapis.com",
    "artifactregistry.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

################################################################################
# Network: one private subnet, Cloud NAT for egress, private services access
################################################################################

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
  depends_on              = [google_project_service.this]
}

# Explicit firewall: the VPC's own ranges talk to each other; every other ingress is denied.
resource "google_compute_firewall" "internal" {
  project       = var.project_id
  name          = "${var.name}-allow-internal"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  priority      = 1000
  source_ranges = [var.subnet_cidr, var.pods_cidr, var.services_cidr, var.master_ipv4_cidr_block]

  allow {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# The global external Application Load Balancer (its Google Front Ends and health checks) reaches the
# api-server pods directly (container-native load balancing, NEGs) on the api port only.
resource "google_compute_firewall" "load_balancer" {
  project       = var.project_id
  name          = "${var.name}-allow-load-balancer"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  priority      = 900
  source_ranges = local.load_balancer_cidrs

  allow {
    protocol = "tcp"
    ports    = [tostring(local.api_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "deny_ingress" {
  project       = var.project_id
  name          = "${var.name}-deny-ingress"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  priority      = 65000
  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "this" {
  project                  = var.project_id
  name                     = "${var.name}-nodes"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "this" {
  project = var.project_id
  name    = var.name
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  project                            = var.project_id
  name                               = var.name
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Cloud SQL and Memorystore get addresses from this range, peered into the VPC.
resource "google_compute_global_address" "services" {
  project       = var.project_id
  name          = "${var.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "this" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.services.name]
}
