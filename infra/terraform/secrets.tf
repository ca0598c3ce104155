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
  #checkov:skip=CKV2_AWS_57:rotated together with the Temporal UI's codec endpoint configuration
  name        = "${local.name}/codec-server-token"
  description = "Bearer token the Temporal Web UI presents to the console's codec endpoint"
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
  # Secrets every carecycle task gets: the payload codec keys and the database password.
  common_secrets = concat(
    [
      { name = "CARECYCLE_CODEC_KEYS", valueFrom = aws_secretsmanager_secret.codec_keys.arn },
      { name = "CARECYCLE_DATABASE_PASSWORD", valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:password::" },
    ],
    var.temporal_auth == "api_key" ? [{ name = "TEMPORAL_API_KEY", valueFrom = local.temporal_api_key_secret_arn }] : [],
    var.temporal_auth == "mtls" ? [
      { name = "TEMPORAL_TLS_CERT", valueFrom = "${aws_secretsmanager_secret.temporal_mtls[0].arn}:cert::" },
      { name = "TEMPORAL_TLS_KEY", valueFrom = "${aws_secretsmanager_secret.temporal_mtls[0].arn}:key::" },
    ] : [],
  )

  portal_secrets  = [{ name = "CARECYCLE_PORTAL_CREDENTIALS", valueFrom = aws_secretsmanager_secret.portal_credentials.arn }]
  console_secrets = [{ name = "CARECYCLE_CODEC_SERVER_TOKEN", valueFrom = aws_secretsmanager_secret.codec_server_token.arn }]

  # The ARNs (without the JSON-key suffix) each task's execution role may read.
  common_secret_arns = compact([
    aws_secretsmanager_secret.codec_keys.arn,
    aws_db_instance.main.master_user_secret[0].secret_arn,
    local.temporal_api_key_secret_arn,
    try(aws_secretsmanager_secret.temporal_mtls[0].arn, null),
  ])
}
