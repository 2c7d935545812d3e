################################################################################
# Cloud SQL PostgreSQL: private IP only, TLS required, regional, backups
################################################################################

resource "random_password" "database" {
  length  = 40
  special = false
}

resource "google_sql_database_instance" "this" {
  #checkov:skip=CKV_GCP_6:The server refuses unencrypted connections (ssl_mode ENCRYPTED_ONLY); checkov passes only TRUSTED_CLIENT_CERTIFICATE_REQUIRED, which would need a client certificate in every Airflow pod.
  project = var.project_id
  # Cloud SQL keeps a deleted instance's name for a week: the suffix makes the next apply's name new.
  name                = "${module.naming.database}-${random_id.suffix.hex}"
  region              = var.region
  database_version    = var.db_version
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.db_tier
    availability_type = "REGIONAL"
    disk_autoresize   = true
    disk_type         = "PD_SSD"
    user_labels       = local.labels

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = google_compute_network.this.id
      enable_private_path_for_google_cloud_services = true
      ssl_mode                                      = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      backup_retention_settings {
        retained_backups = var.db_backup_retention_count
      }
    }

    insights_config {
      query_insights_enabled = true
    }

    # Connections, locks, temporary files, DDL and errors are logged; pgAudit is available.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "log_duration"
      value = "on"
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.this]
}

resource "google_sql_database" "airflow" {
  project  = var.project_id
  name     = "airflow"
  instance = google_sql_database_instance.this.name
}

resource "google_sql_user" "airflow" {
  project  = var.project_id
  name     = "airflow"
  instance = google_sql_database_instance.this.name
  password = random_password.database.result
}

################################################################################
# Memorystore Redis: private service access, AUTH, TLS (server authentication)
################################################################################

resource "google_redis_instance" "this" {
  project                 = var.project_id
  name                    = module.naming.cache
  region                  = var.region
  tier                    = "STANDARD_HA"
  memory_size_gb          = var.cache_memory_size_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = google_compute_network.this.id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  labels                  = local.labels

  depends_on = [google_service_networking_connection.this]
}

################################################################################
# Task log bucket: uniform access, public access prevented, versioned, expiring
################################################################################

resource "google_storage_bucket" "task_logs" {
  #checkov:skip=CKV_GCP_62:Task logs are written only by the workload service account; Cloud Audit Logs (data access), not a second access-log bucket, are the audit trail if one is needed.
  project  = var.project_id
  name     = module.naming.bucket
  location = var.region
  # With deletion_protection off, destroy deletes the objects (every version) with the bucket.
  force_destroy               = !var.deletion_protection
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.task_logs_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

################################################################################
# Workload identity: the release's service account => a Google service account
# that may use objects of this bucket only
################################################################################

resource "google_service_account" "workload" {
  project      = var.project_id
  account_id   = module.naming.workload_identity
  display_name = "${var.name}: airdeck pods (task logs)"
}

resource "google_storage_bucket_iam_member" "workload" {
  bucket = google_storage_bucket.task_logs.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.workload.email}"
}

# One member per Kubernetes service account that uses the task log bucket (workers, triggerer,
# api-server, migration Job); the other components' accounts cannot act as the Google service account.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = module.naming.task_log_service_accounts

  service_account_id = google_service_account.workload.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${each.value}]"
  depends_on         = [google_container_cluster.this]
}

################################################################################
# The platform's secrets: generated once, kept in Secret Manager
################################################################################

resource "random_bytes" "fernet_key" {
  length = 32
}

resource "random_password" "platform" {
  for_each = toset(["jwtSecret", "jwtPrivateKey", "apiSecretKey", "logFetchKey", "adminPassword"])

  length  = 48
  special = false
}

locals {
  # sslmode=require: the server accepts only TLS; the instance's CA is not in the image, so the
  # certificate is not verified. Memorystore's CA is per instance too (ssl_cert_reqs=none, TLS on).
  database_url = "postgresql+psycopg://airflow:${random_password.database.result}@${google_sql_database_instance.this.private_ip_address}:5432/airflow?sslmode=require"
  broker_url   = "rediss://:${google_redis_instance.this.auth_string}@${google_redis_instance.this.host}:${google_redis_instance.this.port}/0?ssl_cert_reqs=none"

  platform_secrets = {
    fernetKey     = replace(replace(random_bytes.fernet_key.base64, "+", "-"), "/", "_")
    jwtSecret     = random_password.platform["jwtSecret"].result
    jwtPrivateKey = random_password.platform["jwtPrivateKey"].result
    logFetchKey   = random_password.platform["logFetchKey"].result
    apiSecretKey  = random_password.platform["apiSecretKey"].result
    adminPassword = random_password.platform["adminPassword"].result
    databaseUrl   = local.database_url
    brokerUrl     = local.broker_url
  }
}

resource "google_secret_manager_secret" "platform" {
  for_each = module.naming.secret_names

  project   = var.project_id
  secret_id = each.value
  labels    = local.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "platform" {
  for_each = module.naming.secret_names

  secret      = google_secret_manager_secret.platform[each.key].id
  secret_data = local.platform_secrets[each.key]
}
