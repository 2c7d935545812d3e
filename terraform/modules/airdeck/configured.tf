################################################################################
# What users configure: LDAP sign-in, roles, alert channels, the break-glass admin.
# Secret-holding inputs (ldap.bind_password, alert_channels' webhook URLs and SMTP passwords) go only
# to Kubernetes Secrets created before the release; the values name those Secrets. The non-secret parts
# of the sensitive `ldap` and `alert_channels` inputs (URLs of the directory, DNs, channel names and
# recipients) are declassified one by one with nonsensitive() to become values.
################################################################################

locals {
  ldap_given  = nonsensitive(var.ldap != null)
  ldap_has_pw = nonsensitive(try(var.ldap.bind_password, null) != null)
  ldap_has_ca = nonsensitive(try(var.ldap.ca_pem, null) != null)

  # airdeck.auth.ldap: the directory's settings, never its password (the chart mounts it from the Secret).
  ldap_settings = {
    for key, value in {
      url               = try(nonsensitive(var.ldap.url), null)
      start_tls         = try(nonsensitive(var.ldap.start_tls), null)
      bind_dn           = try(nonsensitive(var.ldap.bind_dn), null)
      user_dn_template  = try(nonsensitive(var.ldap.user_dn_template), null)
      user_search_base  = try(nonsensitive(var.ldap.user_search_base), null)
      user_filter       = try(nonsensitive(var.ldap.user_filter), null)
      uid_attribute     = try(nonsensitive(var.ldap.uid_attribute), null)
      group_search_base = try(nonsensitive(var.ldap.group_search_base), null)
      group_filter      = try(nonsensitive(var.ldap.group_filter), null)
      roles_mapping     = try(nonsensitive(var.ldap.roles_mapping), null)
      default_role      = try(nonsensitive(var.ldap.default_role), null)
    } : key => value if value != null
  }

  user_auth   = try(var.airdeck.auth, {})
  user_alerts = try(var.airdeck.alerts, {})
  admin_name  = try(var.airdeck.admin.username, "admin")

  auth_overlay = local.ldap_given ? {
    auth = merge(local.user_auth, {
      mode              = "ldap"
      ldap              = merge(try(local.user_auth.ldap, {}), local.ldap_settings)
      break_glass_users = var.break_glass ? [local.admin_name] : []
    })
  } : {}

  channel_names = nonsensitive(toset(keys(var.alert_channels)))
  # airdeck.alerts.channels: type, recipients and the Airflow connection id (alert_<name>, from the Secret).
  channels = {
    for name in local.channel_names : name => merge(
      { type = nonsensitive(var.alert_channels[name].type), connection = "alert_${replace(name, "-", "_")}" },
      nonsensitive(var.alert_channels[name].type) == "email" ? { to = nonsensitive(var.alert_channels[name].to) } : {},
      nonsensitive(try(var.alert_channels[name].smtp.from_email, null)) != null ? { from_email = nonsensitive(var.alert_channels[name].smtp.from_email) } : {},
    )
  }
  alerts_overlay = length(local.channels) > 0 ? {
    alerts = merge(local.user_alerts, { channels = merge(try(local.user_alerts.channels, {}), local.channels) })
  } : {}

  # airdeck.yaml as the release gets it: the user's object with the sections above.
  configured_airdeck = merge(var.airdeck, local.auth_overlay, local.alerts_overlay)

  # The chart's own keys for them: the Secrets to mount, the roles file, the channels' connections.
  user_chart_auth = try(var.extra_values.auth, {})
  chart_auth = merge(
    local.user_chart_auth,
    var.roles == null ? {} : { roles = var.roles },
    local.ldap_given ? {
      ldap = merge(try(local.user_chart_auth.ldap, {}),
        local.ldap_has_pw ? { bindPasswordSecret = { name = "${var.prefix}-ldap", key = "bind-password" } } : {},
      local.ldap_has_ca ? { caConfigMap = { name = "${var.prefix}-ldap-ca", key = "ca.crt" } } : {})
    } : {},
  )
  chart_connections = merge(try(var.extra_values.connections, {}), {
    for name in local.channel_names : "alert_${replace(name, "-", "_")}" => { secret = "${var.prefix}-alert-${name}", key = "connection" }
  })
  # Each channel's Airflow connection (JSON, AIRFLOW_CONN_ form): Slack's incoming webhook, or SMTP with
  # STARTTLS (disable_ssl) or, on port 465, TLS from the first byte.
  alert_connections = {
    for name in local.channel_names : name => var.alert_channels[name].type == "slack" ? jsonencode({
      conn_type = "slackwebhook"
      password  = var.alert_channels[name].webhook_url
      }) : jsonencode({
      conn_type = "smtp"
      host      = var.alert_channels[name].smtp.host
      port      = var.alert_channels[name].smtp.port
      login     = var.alert_channels[name].smtp.login
      password  = var.alert_channels[name].smtp.password
      extra = {
        for key, value in {
          from_email  = var.alert_channels[name].smtp.from_email
          disable_tls = !var.alert_channels[name].smtp.starttls
          disable_ssl = var.alert_channels[name].smtp.port != 465
        } : key => value if value != null
      }
    })
  }

  # Alertmanager pages the same channels for the platform's own alerts (monitoring.alertmanagerConfig):
  # Slack's webhook URL and the SMTP password from the channel's Secret (keys webhook-url, smtp-password).
  alertmanager_channels = {
    for name in local.channel_names : name => jsondecode(nonsensitive(var.alert_channels[name].type) == "slack" ? jsonencode({
      apiURL = { secret = "${var.prefix}-alert-${name}", key = "webhook-url" }
      }) : jsonencode(merge(
      {
        smarthost  = "${nonsensitive(var.alert_channels[name].smtp.host)}:${nonsensitive(var.alert_channels[name].smtp.port)}"
        requireTLS = nonsensitive(var.alert_channels[name].smtp.starttls)
      },
      nonsensitive(try(var.alert_channels[name].smtp.login, null)) != null ? { authUsername = nonsensitive(var.alert_channels[name].smtp.login) } : {},
      nonsensitive(try(var.alert_channels[name].smtp.password, null) != null) ? { authPassword = { secret = "${var.prefix}-alert-${name}", key = "smtp-password" } } : {},
    )))
  }
  user_monitoring = try(var.extra_values.monitoring, {})
  chart_monitoring = length(local.alertmanager_channels) > 0 ? {
    monitoring = merge(local.user_monitoring, {
      alertmanagerConfig = merge(try(local.user_monitoring.alertmanagerConfig, {}), {
        channels = merge(local.alertmanager_channels, try(local.user_monitoring.alertmanagerConfig.channels, {}))
      })
    })
  } : {}

  configured_extra_values = merge(
    var.extra_values,
    length(local.chart_auth) > 0 ? { auth = local.chart_auth } : {},
    length(local.chart_connections) > 0 ? { connections = local.chart_connections } : {},
    local.chart_monitoring,
  )
}

# The service account's password, mounted as a file in the api-server pods only.
resource "kubernetes_secret_v1" "ldap" {
  count = local.ldap_has_pw ? 1 : 0

  metadata {
    name      = "${var.prefix}-ldap"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  type = "Opaque"
  data = { "bind-password" = var.ldap.bind_password }
}

# The private CA of the directory's certificate (not secret), mounted in the api-server pods only.
resource "kubernetes_config_map_v1" "ldap_ca" {
  count = local.ldap_has_ca ? 1 : 0

  metadata {
    name      = "${var.prefix}-ldap-ca"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  data = { "ca.crt" = nonsensitive(var.ldap.ca_pem) }
}

# One Secret per alert channel: its Airflow connection (AIRFLOW_CONN_ALERT_<NAME> in the alert dispatcher).
resource "kubernetes_secret_v1" "alert_channel" {
  for_each = local.channel_names

  metadata {
    name      = "${var.prefix}-alert-${each.key}"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "airdeck" }
  }

  type = "Opaque"
  # connection: the dispatcher's; webhook-url / smtp-password: Alertmanager's (monitoring.alertmanagerConfig).
  data = merge(
    { connection = local.alert_connections[each.key] },
    var.alert_channels[each.key].type == "slack" ? { "webhook-url" = var.alert_channels[each.key].webhook_url } : {},
    try(var.alert_channels[each.key].smtp.password, null) != null ? { "smtp-password" = var.alert_channels[each.key].smtp.password } : {},
  )
}
