# Alarms an operator acts on: the database running out of room or CPU; work waiting too long on a task queue
# (the oldest waiting task's age, i.e. the schedule-to-start latency of the next task); workflows failing; work
# items piling up past their SLA. The carecycle metrics come from the workers (observability.tf): several
# worker processes report the same store-wide values, hence Maximum, never Sum, for those.

resource "aws_cloudwatch_metric_alarm" "db_free_storage" {
  alarm_name          = "${local.name}-db-free-storage"
  alarm_description   = "RDS free storage below 10 GiB"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 10 * 1024 * 1024 * 1024
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}

resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${local.name}-db-cpu"
  alarm_description   = "RDS CPU above 80% for 15 minutes"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}

resource "aws_cloudwatch_metric_alarm" "schedule_to_start" {
  for_each = { for pair in setproduct(keys(var.worker_queues), ["workflow", "activity"]) : "${pair[0]}-${pair[1]}" => pair }

  alarm_name          = "${local.name}-${each.key}-schedule-to-start"
  alarm_description   = "A ${each.value[1]} task on the ${each.value[0]} queue has waited longer than ${var.alarm_thresholds.schedule_to_start_seconds} s for a worker (workers down, or too few)"
  namespace           = local.metrics_namespace
  metric_name         = "carecycle_task_queue_backlog_age_seconds"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_thresholds.schedule_to_start_seconds
  treat_missing_data  = "breaching" # no metrics at all: no worker is sampling, which is itself the problem
  dimensions          = { task_queue = each.value[0], task_type = each.value[1] }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}

resource "aws_cloudwatch_metric_alarm" "workflow_failures" {
  for_each = var.worker_queues

  alarm_name          = "${local.name}-${each.key}-workflow-failures"
  alarm_description   = "Workflows on the ${each.key} queue failed (a bug or a non-determinism after a deploy: `carecycle audit replay`)"
  namespace           = local.metrics_namespace
  metric_name         = "temporal_workflow_failed"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_thresholds.workflow_failures
  treat_missing_data  = "notBreaching"
  dimensions          = { task_queue = each.key }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}

# Summed over the people's queues with metric math: one alarm, whatever queues exist.
resource "aws_cloudwatch_metric_alarm" "work_items_past_sla" {
  alarm_name          = "${local.name}-work-items-past-sla"
  alarm_description   = "More than ${var.alarm_thresholds.work_items_past_sla} work items are past their SLA (console: /queues)"
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_thresholds.work_items_past_sla
  treat_missing_data  = "notBreaching"
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])

  metric_query {
    id          = "overdue"
    expression  = "SUM(SEARCH('{${local.metrics_namespace},queue} MetricName=\"carecycle_work_items_overdue\"', 'Maximum', 300))"
    label       = "work items past their SLA"
    return_data = true
  }
}
