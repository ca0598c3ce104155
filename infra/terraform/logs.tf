# Every log group: encrypted with the logs key, kept for log_retention_days (at least a year).
# carecycle's own logs carry opaque ids only (no PHI), but encryption and retention do not rely on that.

resource "aws_cloudwatch_log_group" "workers" {
  for_each = var.worker_queues

  name              = "/carecycle/${var.environment}/worker-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "services" {
  for_each = local.services

  name              = "/carecycle/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

moved {
  from = aws_cloudwatch_log_group.console
  to   = aws_cloudwatch_log_group.services["console"]
}

# The workers' metrics as CloudWatch embedded-metric-format lines (observability.tf): CloudWatch turns them into
# the metrics of namespace carecycle that scaling and alarms read. Counts and codes only.
resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/carecycle/${var.environment}/metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "batch" {
  name              = "/carecycle/${var.environment}/batch"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "ecs_exec" {
  name              = "/carecycle/${var.environment}/ecs-exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

# RDS writes to these names; creating them first puts retention and encryption on them.
resource "aws_cloudwatch_log_group" "rds" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/carecycle/${var.environment}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

# WAF requires the aws-waf-logs- prefix.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}
