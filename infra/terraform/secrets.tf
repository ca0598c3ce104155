# Secrets the tasks read at start, injected by ECS from Secrets Manager (never plain environment variables).
# Terraform creates the containers only; values are put out of band (docs/deployment.md) so that no secret
# value ever lands in Terraform state. The database password is RDS's own managed secret.

resource "aws_secretsmanager_secret" "codec_keys" {
  #checkov:skip=CKV2_AWS_57:codec keys rotate in the application (key ids: add a key, make it active, keep old ones to decrypt history)
  name        = "${local.name}/payload-codec-keys"
  description = "AES-GCM payload codec keys for Temporal payloads: kid:base64key[,kid:base64key], first active"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "codec_server_token" {
  #checkov:skip=CKV2_AWS_57:rotated by hand: a new token first in the comma-separated list, the old one kept while browsers re-authorize
  name        = "${local.name}/codec-server-token"
  description = "Token(s) of the codec server (comma-separated, newest first): a Bearer header, or typed once on its /authorize page"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "actor_keys" {
  #checkov:skip=CKV2_AWS_57:actor keys rotate in the application (key ids: add a key, make it active, keep old ones to verify)
  name        = "${local.name}/actor-keys"
  description = "HMAC keys that sign who resolved a work item (console, CLI) and that workers verify: kid:base64key[,...], first active"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "visit_vendors" {
  #checkov:skip=CKV2_AWS_57:vendor API keys are issued and rotated at the vendors (SMS, e-mail, video); the value is replaced then
  name        = "${local.name}/visit-vendors"
  description = "The patients' messaging and video vendors as JSON: {sms_auth_token, email_server_token, video_api_key, webhook_secret}"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "console_session_secret" {
  #checkov:skip=CKV2_AWS_57:changing it signs every console user out: rotated by hand, at a quiet time
  name        = "${local.name}/console-session-secret"
  description = "Key (32+ characters) every console instance signs session cookies with"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "prefect_api_key" {
  #checkov:skip=CKV2_AWS_57:Prefect Cloud API keys are issued and expire in Prefect Cloud; the value is replaced before expiry
  count = var.prefect_mode == "cloud" ? 1 : 0

  name        = "${local.name}/prefect-api-key"
  description = "Prefect Cloud API key of the carecycle batch plane"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "portal_credentials" {
  #checkov:skip=CKV2_AWS_57:payer portal passwords are changed on the payer's site; the value is updated after each change
  name        = "${local.name}/portal-credentials"
  description = "Payer portal accounts as JSON: {portal_variant: {username, password, totp_secret?}}"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "temporal_api_key" {
  #checkov:skip=CKV2_AWS_57:Temporal Cloud API keys are issued and expire in Temporal Cloud; the value is replaced before expiry
  count = var.temporal_auth == "api_key" && var.temporal_api_key_secret_arn == null ? 1 : 0

  name        = "${local.name}/temporal-api-key"
  description = "Temporal Cloud API key of the carecycle service account"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "temporal_mtls" {
  #checkov:skip=CKV2_AWS_57:client certificates are renewed by the CA that issued them; the value is replaced before expiry
  count = var.temporal_auth == "mtls" ? 1 : 0

  name        = "${local.name}/temporal-mtls"
  description = "Temporal client certificate and key as JSON: {cert, key} (PEM)"
  kms_key_id  = aws_kms_key.secrets.arn

  recovery_window_in_days = 30
}

locals {
  database_secrets = [
    { name = "CARECYCLE_DATABASE_PASSWORD", valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:password::" },
  ]

  temporal_secrets = concat(
    var.temporal_auth == "api_key" ? [{ name = "TEMPORAL_API_KEY", valueFrom = local.temporal_api_key_secret_arn }] : [],
    var.temporal_auth == "mtls" ? [
      { name = "TEMPORAL_TLS_CERT", valueFrom = "${aws_secretsmanager_secret.temporal_mtls[0].arn}:cert::" },
      { name = "TEMPORAL_TLS_KEY", valueFrom = "${aws_secretsmanager_secret.temporal_mtls[0].arn}:key::" },
    ] : [],
  )

  codec_keys_secret = [{ name = "CARECYCLE_CODEC_KEYS", valueFrom = aws_secretsmanager_secret.codec_keys.arn }]

  # Secrets every task that talks to Temporal and the store gets: the payload codec keys, the database password,
  # Temporal's credentials, and the actor keys (people's resolutions are signed by the console and the CLI and
  # checked by the workers: every one of them needs the same keys).
  common_secrets = concat(
    local.codec_keys_secret,
    local.database_secrets,
    local.temporal_secrets,
    [{ name = "CARECYCLE_ACTOR_KEYS", valueFrom = aws_secretsmanager_secret.actor_keys.arn }],
  )

  # For the task queues whose activities reach the patients' vendors (queue_needs.json: messaging_vendors).
  vendor_secrets = [
    for key, variable in {
      sms_auth_token     = "CARECYCLE_SMS_AUTH_TOKEN"
      email_server_token = "CARECYCLE_EMAIL_SERVER_TOKEN"
      video_api_key      = "CARECYCLE_VIDEO_API_KEY"
      webhook_secret     = "CARECYCLE_WEBHOOK_SECRET"
    } : { name = variable, valueFrom = "${aws_secretsmanager_secret.visit_vendors.arn}:${key}::" }
  ]

  portal_secrets  = [{ name = "CARECYCLE_PORTAL_CREDENTIALS", valueFrom = aws_secretsmanager_secret.portal_credentials.arn }]
  console_secrets = [{ name = "CARECYCLE_CONSOLE_SESSION_SECRET", valueFrom = aws_secretsmanager_secret.console_session_secret.arn }]
  codec_server_secrets = concat(
    local.codec_keys_secret,
    [{ name = "CARECYCLE_CODEC_SERVER_TOKEN", valueFrom = aws_secretsmanager_secret.codec_server_token.arn }],
  )
  prefect_secrets = var.prefect_mode == "cloud" ? [{ name = "PREFECT_API_KEY", valueFrom = aws_secretsmanager_secret.prefect_api_key[0].arn }] : []

  # The ARNs (without the JSON-key suffix) the execution role may read: exactly those injected somewhere.
  injected_secret_arns = compact([
    aws_secretsmanager_secret.codec_keys.arn,
    aws_secretsmanager_secret.actor_keys.arn,
    aws_secretsmanager_secret.visit_vendors.arn,
    aws_secretsmanager_secret.codec_server_token.arn,
    aws_secretsmanager_secret.console_session_secret.arn,
    aws_secretsmanager_secret.portal_credentials.arn,
    aws_db_instance.main.master_user_secret[0].secret_arn,
    local.temporal_api_key_secret_arn,
    try(aws_secretsmanager_secret.temporal_mtls[0].arn, null),
    try(aws_secretsmanager_secret.prefect_api_key[0].arn, null),
  ])
}
