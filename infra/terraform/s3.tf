# Documents (EOB PDFs, X12 files, statements, portal screenshots) and audit exports (workflow histories).
# Both: SSE-KMS with the data key, versioning, every public access blocked, TLS-only bucket policies,
# access logs. Audit exports are also write-once: object lock in compliance mode.

resource "aws_s3_bucket" "documents" {
  #checkov:skip=CKV_AWS_144:cross-region replication is a disaster-recovery choice made per practice (docs/deployment.md); backups and versioning are on
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; intake runs on a schedule
  bucket = "${local.name}-documents-${local.account_id}"
}

resource "aws_s3_bucket" "audit_exports" {
  #checkov:skip=CKV_AWS_144:cross-region replication is a disaster-recovery choice made per practice (docs/deployment.md); object lock protects the copies
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events
  bucket              = "${local.name}-audit-exports-${local.account_id}"
  object_lock_enabled = true
}

# S3 server access logs and ALB logs can only be delivered to a bucket encrypted with S3-managed keys (SSE-S3),
# so this one bucket uses AES256; it holds request metadata, never document contents.
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets
  #checkov:skip=CKV_AWS_144:access logs are not replicated
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events
  #checkov:skip=CKV_AWS_18:this is the access-log bucket itself
  bucket = "${local.name}-access-logs-${local.account_id}"
}

locals {
  kms_buckets = {
    documents     = aws_s3_bucket.documents
    audit_exports = aws_s3_bucket.audit_exports
  }
  all_buckets = merge(local.kms_buckets, { access_logs = aws_s3_bucket.access_logs })
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each = local.all_buckets

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "all" {
  for_each = local.all_buckets

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "all" {
  for_each = local.all_buckets

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "kms" {
  for_each = local.kms_buckets

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "kms" {
  for_each = local.kms_buckets

  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${each.key}/"
}

resource "aws_s3_bucket_object_lock_configuration" "audit_exports" {
  bucket = aws_s3_bucket.audit_exports.id

  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.audit_export_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    id     = "tier-and-expire-old-versions"
    status = "Enabled"

    filter {}

    transition {
      days          = var.documents_infrequent_access_days
      storage_class = "STANDARD_IA"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.documents_noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "audit_exports" {
  bucket = aws_s3_bucket.audit_exports.id

  # Locked objects cannot expire before their retention ends; they only move to colder storage.
  rule {
    id     = "archive"
    status = "Enabled"

    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.all]
}

# --- bucket policies: TLS only; the KMS buckets refuse objects not encrypted with the data key ----------

data "aws_iam_policy_document" "kms_bucket" {
  for_each = local.kms_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOtherEncryption"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyOtherEncryptionKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.data.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "kms" {
  for_each = local.kms_buckets

  bucket = each.value.id
  policy = data.aws_iam_policy_document.kms_bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.all]
}

data "aws_elb_service_account" "current" {}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "LoadBalancerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.all]
}
