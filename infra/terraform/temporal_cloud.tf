# The Temporal Cloud namespace (with temporal_cloud set): its retention, the authentication the tasks use,
# the custom search attributes every workflow sets (flows/search_attributes.py; a test compares the two lists),
# and the codec server the Cloud Web UI decodes payloads through. Without temporal_cloud, the namespace is
# managed elsewhere (docs/operations.md lists the search attributes to register).

locals {
  search_attributes = {
    Stage       = "keyword"
    PayerId     = "keyword"
    ClaimStatus = "keyword"
    WorkQueue   = "keyword"
    AgingBucket = "keyword"
    EntityId    = "keyword"
    EntityType  = "keyword"
    PatientId   = "keyword"
    ClaimId     = "keyword"
    Escalated   = "bool"
  }
}

resource "temporalcloud_namespace" "main" {
  count = var.temporal_cloud != null ? 1 : 0

  name               = var.temporal_cloud.namespace
  regions            = [var.temporal_cloud.region]
  retention_days     = var.temporal_cloud.retention_days
  api_key_auth       = var.temporal_auth == "api_key"
  accepted_client_ca = var.temporal_auth == "mtls" ? base64encode(var.temporal_client_ca_pem) : null

  # The Web UI asks the codec server to decode for the signed-in person: the browser holds the codec server's
  # cookie (set on its /authorize page), so cross-origin credentials are included (docs/operations.md).
  codec_server = {
    endpoint                         = "https://${local.web_host}:8443"
    pass_access_token                = false
    include_cross_origin_credentials = true
  }

  lifecycle {
    prevent_destroy = true # closed histories live here until the archive has them
  }
}

resource "temporalcloud_namespace_search_attribute" "main" {
  for_each = var.temporal_cloud != null ? local.search_attributes : {}

  namespace_id = temporalcloud_namespace.main[0].id
  name         = each.key
  type         = each.value
}
