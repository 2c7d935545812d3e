################################################################################
# PostgreSQL Flexible Server: VNet-integrated (no public address), TLS required
################################################################################

resource "random_password" "database" {
  length  = 40
  special = false
}

resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:The server is VNet-integrated (delegated subnet, private DNS zone), which excludes private endpoints; it has no public address at all.
  # The server's name is a public DNS name: the suffix keeps it unique and new after a destroy.
  name                          = "${module.naming.database}-${random_id.suffix.hex}"
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  version                       = var.postgres_version
  sku_name                      = var.db_sku_name
  storage_mb                    = var.postgres_storage_mb
  delegated_subnet_id           = azurerm_subnet.postgres.id
  private_dns_zone_id           = azurerm_private_dns_zone.this["postgres"].id
  public_network_access_enabled = false
  administrator_login           = "airflow"
  administrator_password        = random_password.database.result
  backup_retention_days         = var.postgres_backup_retention_days
  geo_redundant_backup_enabled  = true
  zone                          = "1"
  tags                          = local.tags

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  depends_on = [azurerm_private_dns_zone_virtual_network_link.this]
}

resource "azurerm_postgresql_flexible_server_configuration" "tls" {
  for_each = {
    require_secure_transport = "on"
    ssl_min_protocol_version = "TLSv1.2"
    log_checkpoints          = "on"
    log_connections          = "on"
    log_disconnections       = "on"
  }

  name      = each.key
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = each.value
}

resource "azurerm_postgresql_flexible_server_database" "airflow" {
  name      = "airflow"
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

################################################################################
# Azure Cache for Redis: TLS only (6380), no public network, private endpoint
################################################################################

resource "azurerm_redis_cache" "this" {
  name                          = "${module.naming.cache}-${random_id.suffix.hex}"
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  sku_name                      = var.cache_sku_name
  family                        = var.cache_sku_name == "Premium" ? "P" : "C"
  capacity                      = var.cache_capacity
  non_ssl_port_enabled          = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = false
  redis_version                 = "6"
  tags                          = local.tags

  redis_configuration {
    authentication_enabled = true
  }
}

resource "azurerm_private_endpoint" "redis" {
  name                = "${var.name}-redis"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "redis"
    private_connection_resource_id = azurerm_redis_cache.this.id
    subresource_names              = ["redisCache"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "redis"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["redis"].id]
  }
}

################################################################################
# Storage account + container for task logs: no public or shared-key access
################################################################################

resource "azurerm_storage_account" "task_logs" {
  #checkov:skip=CKV2_AZURE_1:Encrypted at rest with Microsoft-managed keys (and infrastructure encryption); a customer-managed key is the user's choice.
  #checkov:skip=CKV_AZURE_33:The account holds blobs only; there is no queue service in use to log.
  #checkov:skip=CKV2_AZURE_20:There is no table service in use to log.
  name                              = module.naming.storage_account
  location                          = azurerm_resource_group.this.location
  resource_group_name               = azurerm_resource_group.this.name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GZRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  public_network_access_enabled     = false
  shared_access_key_enabled         = false
  local_user_enabled                = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true
  tags                              = local.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 7
    }

    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_storage_container" "task_logs" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging needs a diagnostic setting and a destination that are the user's; only the workload identity can read the container.
  name                  = module.naming.bucket
  storage_account_id    = azurerm_storage_account.task_logs.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "task_logs" {
  storage_account_id = azurerm_storage_account.task_logs.id

  rule {
    name    = "expire-task-logs"
    enabled = true

    filters {
      blob_types   = ["blockBlob", "appendBlob"]
      prefix_match = ["${module.naming.bucket}/${var.task_logs_prefix}"]
    }

    actions {
      base_blob {
        delete_after_days_since_modification_greater_than = var.task_logs_retention_days
      }
      version {
        delete_after_days_since_creation = 30
      }
    }
  }
}

resource "azurerm_private_endpoint" "blob" {
  name                = "${var.name}-blob"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = azurerm_storage_account.task_logs.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "blob"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["blob"].id]
  }
}

################################################################################
# Workload identity: the release's service account, this container only
################################################################################

resource "azurerm_user_assigned_identity" "workload" {
  name                = module.naming.workload_identity
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

# One federated credential per Kubernetes service account that uses the task log bucket (workers,
# triggerer, api-server, migration Job; module.naming.task_log_service_accounts), written one after the
# other: Azure refuses concurrent credential writes under one identity (409
# ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity), so no for_each here.
resource "azurerm_federated_identity_credential" "workload" {
  name                = module.naming.task_log_service_accounts.workers
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.workload.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${module.naming.task_log_service_accounts.workers}"
}

resource "azurerm_federated_identity_credential" "triggerer" {
  name                = module.naming.task_log_service_accounts.triggerer
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.workload.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${module.naming.task_log_service_accounts.triggerer}"
  depends_on          = [azurerm_federated_identity_credential.workload]
}

resource "azurerm_federated_identity_credential" "api_server" {
  name                = module.naming.task_log_service_accounts.apiServer
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.workload.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${module.naming.task_log_service_accounts.apiServer}"
  depends_on          = [azurerm_federated_identity_credential.triggerer]
}

resource "azurerm_federated_identity_credential" "migrations" {
  name                = module.naming.task_log_service_accounts.migrations
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.workload.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${module.naming.task_log_service_accounts.migrations}"
  depends_on          = [azurerm_federated_identity_credential.api_server]
}

resource "azurerm_role_assignment" "workload_task_logs" {
  scope                = azurerm_storage_container.task_logs.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
  principal_type       = "ServicePrincipal"
}

################################################################################
# Key Vault with the platform's secrets (RBAC, purge protection, private endpoint)
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
  # require_secure_transport is on; sslmode=require encrypts (the server's CA is not in the image).
  database_url = "postgresql+psycopg://airflow:${random_password.database.result}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/airflow?sslmode=require"
  broker_url   = "rediss://:${azurerm_redis_cache.this.primary_access_key}@${azurerm_redis_cache.this.hostname}:${azurerm_redis_cache.this.ssl_port}/0?ssl_cert_reqs=required"

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

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:Terraform writes the secrets through the data plane, so the vault keeps a public endpoint, closed by network_acls (default Deny) to all but operator_cidrs; pods use the private endpoint.
  name                          = module.naming.key_vault
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = local.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.operator_cidrs
  }
}

resource "azurerm_private_endpoint" "vault" {
  name                = "${var.name}-vault"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "vault"
    private_connection_resource_id = azurerm_key_vault.this.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "vault"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["vault"].id]
  }
}

# Whoever runs Terraform may write the secrets.
resource "azurerm_role_assignment" "deployer_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_secret" "platform" {
  #checkov:skip=CKV_AZURE_41:The platform secrets do not expire on a date: an expired Fernet key or database password would stop the platform; rotate by replacing the random_* resource.
  for_each = module.naming.secret_names

  name         = each.value
  key_vault_id = azurerm_key_vault.this.id
  value        = local.platform_secrets[each.key]
  content_type = "text/plain"
  tags         = local.tags

  depends_on = [azurerm_role_assignment.deployer_secrets]
}

resource "azurerm_management_lock" "this" {
  for_each = var.deletion_protection ? {
    postgres  = azurerm_postgresql_flexible_server.this.id
    key_vault = azurerm_key_vault.this.id
  } : {}

  name       = "${var.name}-${each.key}-no-delete"
  scope      = each.value
  lock_level = "CanNotDelete"
  notes      = "deletion_protection of the airdeck module: set it to false and apply before destroying."
}
