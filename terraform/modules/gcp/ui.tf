################################################################################
# The UI: a global external Application Load Balancer made by the GKE Gateway
# (class gke-l7-global-external-managed) on a reserved address, a Google-managed
# certificate (Certificate Manager, DNS authorization), Cloud Armor admitting
# operator_cidrs only, and with dns_zone the Cloud DNS records.
################################################################################

resource "google_compute_global_address" "ui" {
  project    = var.project_id
  name       = "${var.name}-ui"
  depends_on = [google_project_service.this]
}

# DNS authorization: Google validates the certificate through a CNAME, so the certificate is issued
# even though Cloud Armor keeps the load balancer closed to everyone but operator_cidrs.
resource "google_certificate_manager_dns_authorization" "ui" {
  project    = var.project_id
  name       = "${var.name}-ui-${random_id.suffix.hex}"
  domain     = var.host
  labels     = local.labels
  depends_on = [google_project_service.this]
}

resource "google_certificate_manager_certificate" "ui" {
  project = var.project_id
  name    = "${var.name}-ui-${random_id.suffix.hex}"
  labels  = local.labels

  managed {
    domains            = [var.host]
    dns_authorizations = [google_certificate_manager_dns_authorization.ui.id]
  }
}

resource "google_certificate_manager_certificate_map" "ui" {
  project    = var.project_id
  name       = "${var.name}-ui-${random_id.suffix.hex}"
  labels     = local.labels
  depends_on = [google_project_service.this]
}

resource "google_certificate_manager_certificate_map_entry" "ui" {
  project      = var.project_id
  name         = "${var.name}-ui"
  map          = google_certificate_manager_certificate_map.ui.name
  hostname     = var.host
  certificates = [google_certificate_manager_certificate.ui.id]
  labels       = local.labels
}

# Cloud Armor: operator_cidrs (at most 10 ranges per rule) are allowed, everything else gets 403.
resource "google_compute_security_policy" "ui" {
  project     = var.project_id
  name        = "${var.name}-ui"
  description = "airdeck ${var.name}: the UI answers operator_cidrs only"

  # Log4j probes are refused even from the allowed networks.
  rule {
    action      = "deny(403)"
    priority    = 100
    description = "CVE-2021-44228 and CVE-2021-45046"
    match {
      expr {
        expression = "evaluatePreconfiguredExpr('cve-canary')"
      }
    }
  }

  dynamic "rule" {
    for_each = chunklist(var.operator_cidrs, 10)
    content {
      action      = "allow"
      priority    = 1000 + rule.key
      description = "operator_cidrs, part ${rule.key + 1}"
      match {
        versioned_expr = "SRC_IPS_V1"
        config {
          src_ip_ranges = rule.value
        }
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2147483647
    description = "Everyone else"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.this]
}

data "google_dns_managed_zone" "ui" {
  count = var.dns_zone == "" ? 0 : 1

  project = var.project_id
  name    = var.dns_zone
}

locals {
  zone_dns_name = try(trimsuffix(data.google_dns_managed_zone.ui[0].dns_name, "."), "")
  # The records the UI needs: created in dns_zone, or listed in the dns_records output for you to create.
  dns_records = {
    ui = {
      name = "${var.host}."
      type = "A"
      data = google_compute_global_address.ui.address
    }
    certificate = {
      name = google_certificate_manager_dns_authorization.ui.dns_resource_record[0].name
      type = google_certificate_manager_dns_authorization.ui.dns_resource_record[0].type
      data = google_certificate_manager_dns_authorization.ui.dns_resource_record[0].data
    }
  }
}

resource "google_dns_record_set" "ui" {
  for_each = var.dns_zone == "" ? {} : local.dns_records

  project      = var.project_id
  managed_zone = data.google_dns_managed_zone.ui[0].name
  name         = each.value.name
  type         = each.value.type
  ttl          = 300
  rrdatas      = [each.value.data]

  lifecycle {
    precondition {
      condition     = endswith(var.host, ".${local.zone_dns_name}") || var.host == local.zone_dns_name
      error_message = "host ${var.host} is not inside the Cloud DNS zone ${var.dns_zone} (${local.zone_dns_name}): pick a host under it, or leave dns_zone empty and create the records of the dns_records output yourself."
    }
  }
}
