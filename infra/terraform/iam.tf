# Roles, least privilege:
# - one execution role (ECS agent): pull the image, write the task logs, read exactly the secrets injected;
# - one task role per worker queue, one for the console and one for batch: only the buckets and keys that
#   process touches (documents for the queues that store files; audit-export writes for batch only);
# - service roles for RDS enhanced monitoring, VPC flow logs and EventBridge Scheduler.

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
      ["${aws_cloudwatch_log_group.console.arn}:*", "${aws_cloudwatch_log_group.batch.arn}:*"],
    )
  }

  statement {
    sid     = "ReadInjectedSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat(
      local.common_secret_arns,
      [aws_secretsmanager_secret.portal_credentials.arn, aws_secretsmanager_secret.codec_server_token.arn],
    )
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
    { for queue, spec in var.worker_queues : "worker-${queue}" => { documents = spec.documents_access, audit_exports = false } },
    {
      console = { documents = true, audit_exports = false } # download links for documents
      batch   = { documents = true, audit_exports = true }  # remittance intake files, audit exports
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

  # Write-only: nothing in carecycle reads back or deletes an audit export (object lock forbids it anyway).
  dynamic "statement" {
    for_each = each.value.audit_exports ? [1] : []

    content {
      sid       = "WriteAuditExports"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.audit_exports.arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.documents || each.value.audit_exports ? [1] : []

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

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RunTheBatchTask"
    actions   = ["ecs:RunTask"]
    resources = ["${aws_ecs_task_definition.batch.arn_without_revision}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.main.arn]
    }
  }

  statement {
    sid       = "PassTheBatchRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task["batch"].arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-batch"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
