data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:only the first az_count zones are used (slice in locals); a zone AWS adds later is appended, not used
  state = "available"
}

locals {
  name       = "carecycle-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  tags = merge(var.tags, {
    Application = "carecycle"
    Environment = var.environment
    ManagedBy   = "terraform"
    DataClass   = "phi"
  })

  image = coalesce(var.container_image, "${aws_ecr_repository.carecycle.repository_url}${startswith(var.image_tag, "sha256:") ? "@" : ":"}${var.image_tag}")

  # The state a task writes (Prefect's home, scratch files) goes to a per-task volume: the root filesystem is read-only.
  carecycle_home = "/var/lib/carecycle"

  temporal_api_key_secret_arn = var.temporal_auth == "api_key" ? coalesce(var.temporal_api_key_secret_arn, try(aws_secretsmanager_secret.temporal_api_key[0].arn, null)) : null
}
