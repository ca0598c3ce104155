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

  image             = coalesce(var.container_image, "${aws_ecr_repository.carecycle.repository_url}${startswith(var.image_tag, "sha256:") ? "@" : ":"}${var.image_tag}")
  browser_image_tag = coalesce(var.browser_image_tag, "${var.image_tag}-chromium")
  browser_image     = coalesce(var.browser_container_image, "${aws_ecr_repository.carecycle.repository_url}${startswith(local.browser_image_tag, "sha256:") ? "@" : ":"}${local.browser_image_tag}")

  # The state a task writes (Prefect's home, scratch files) goes to a per-task volume: the root filesystem is read-only.
  carecycle_home = "/var/lib/carecycle"

  temporal_api_key_secret_arn = var.temporal_auth == "api_key" ? coalesce(var.temporal_api_key_secret_arn, try(aws_secretsmanager_secret.temporal_api_key[0].arn, null)) : null

  # Temporal: the namespace managed here (temporal_cloud.tf), or the one named by the variables.
  temporal_namespace = var.temporal_cloud != null ? temporalcloud_namespace.main[0].id : var.temporal_namespace
  temporal_address   = var.temporal_cloud != null ? temporalcloud_namespace.main[0].endpoints.grpc_address : var.temporal_address

  # The name people and the EHR use for the load balancers (the certificate's), else the balancers' own.
  web_host = coalesce(var.public_hostname, aws_lb.console.dns_name)
  hl7_host = coalesce(var.public_hostname, aws_lb.hl7.dns_name)

  # What each task queue's activities touch, as the code says (workers/registry.py writes this file; a test
  # checks it is current): the documents bucket, the portal credentials, a browser (the portal image).
  queue_needs = jsondecode(file("${path.module}/queue_needs.json"))
}
