# Roles, least privilege:
# - one execution role (ECS agent): pull the images, write the task logs, read exactly the secrets injected;
# - one task role per worker queue and per service: only the buckets and keys that process touches. A worker
#   queue's document access follows queue_needs.json, which the code derives from what the queue's activities
#   take (workers/registry.py); the batch plane writes (and reads back the manifests of) the archive;
# - service roles for RDS enhanced monitoring and VPC flow logs.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.carecycle.arn]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }

  statement {
    sid     = "WriteTaskLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = concat(
      [for group in aws_cloudwatch_log_group.workers : "${group.arn}:*"],
      [for group in aws_cloudwatch_log_group.services : "${group.arn}:*"],
      ["${aws_cloudwatch_log_group.batch.arn}:*"],
    )
  }

  statement {
    sid       = "ReadInjectedSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.injected_secret_arns
  }

  statement {
    sid       = "DecryptInjectedSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- task roles ---------------------------------------------------------------------------------------

locals {
  task_roles = merge(
    {
      for queue in keys(var.worker_queues) : "worker-${queue}" => {
        documents = contains(local.queue_needs[queue], "documents")
        archive   = false
        metrics   = true # its metrics sidecar writes to CloudWatch
      }
    },
    {
      console          = { documents = true, archive = false, metrics = false } # download links for documents
      api              = { documents = false, archive = false, metrics = false }
      "codec-server"   = { documents = false, archive = false, metrics = false }
      "hl7-listener"   = { documents = false, archive = false, metrics = false }
      "batch-serve"    = { documents = true, archive = true, metrics = false } # intake files, reports, the archive
      "prefect-server" = { documents = false, archive = false, metrics = false }
      webhooks         = { documents = false, archive = false, metrics = false } # the store and Temporal only
    },
  )
}

resource "aws_iam_role" "task" {
  for_each = local.task_roles

  name               = "${local.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = local.task_roles

  # ECS Exec for operators (audited in the ecs-exec log group).
  statement {
    sid       = "EcsExec"
    actions   = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
    resources = ["*"] # the actions have no resource-level permissions
  }

  statement {
    sid       = "EcsExecLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.ecs_exec.arn}:*"]
  }

  statement {
    sid       = "EcsExecLogsDescribe"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"] # DescribeLogGroups has no resource-level permissions
  }

  statement {
    sid       = "EcsExecEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.logs.arn]
  }

  dynamic "statement" {
    for_each = each.value.documents ? [1] : []

    content {
      sid       = "Documents"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:GetObjectVersion"]
      resources = ["${aws_s3_bucket.documents.arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.documents ? [1] : []

    content {
      sid       = "ListDocuments"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.documents.arn]
    }
  }

  # The archive: put objects (with their object-lock retention) and read them back (the newest manifest starts the
  # next run; `carecycle audit verify-archive`). Never delete: object lock in compliance mode forbids it anyway.
  dynamic "statement" {
    for_each = each.value.archive ? [1] : []

    content {
      sid       = "WriteAndReadTheArchive"
      actions   = ["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject", "s3:GetObjectVersion"]
      resources = ["${aws_s3_bucket.audit_exports.arn}/archive/*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.archive ? [1] : []

    content {
      sid       = "ListTheArchive"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.audit_exports.arn]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["archive/*"]
      }
    }
  }

  # The metrics sidecar's embedded-metric-format lines, to the metrics log group only.
  dynamic "statement" {
    for_each = each.value.metrics ? [1] : []

    content {
      sid       = "WriteMetrics"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      resources = ["${aws_cloudwatch_log_group.metrics.arn}:*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.documents || each.value.archive ? [1] : []

    content {
      sid       = "DataKeyThroughS3"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [aws_kms_key.data.arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_roles

  name   = "carecycle-${each.key}"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

# --- service roles ------------------------------------------------------------------------------------

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
