# Metrics: each worker process serves /metrics on 127.0.0.1:9464 (the Temporal SDK's metrics and carecycle's
# application metrics, docs/operations.md "Metrics"). A sidecar in each worker task, the AWS Distro for
# OpenTelemetry collector, scrapes it and writes the metrics that scaling and alarms read to CloudWatch
# (namespace carecycle) as embedded-metric-format log lines. Nothing else leaves the task.

locals {
  metrics_namespace = "carecycle"

  # Only what the deployment reads is turned into CloudWatch metrics (each costs money); the dashboard in
  # docs/grafana reads the full set from a Prometheus that scrapes the workers.
  collector_config = yamlencode({
    receivers = {
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "carecycle-worker"
            scrape_interval = "30s"
            static_configs  = [{ targets = ["127.0.0.1:9464"] }]
          }]
        }
      }
    }
    exporters = {
      awsemf = {
        namespace               = local.metrics_namespace
        log_group_name          = aws_cloudwatch_log_group.metrics.name
        region                  = local.region
        dimension_rollup_option = "NoDimensionRollup"
        metric_declarations = [
          {
            dimensions            = [["task_queue", "task_type"]]
            metric_name_selectors = ["^carecycle_task_queue_backlog$", "^carecycle_task_queue_backlog_age_seconds$"]
          },
          {
            dimensions            = [["queue"]]
            metric_name_selectors = ["^carecycle_work_items_overdue$"]
          },
          {
            dimensions            = [["task_queue"]]
            metric_name_selectors = ["^temporal_workflow_failed$"]
          },
        ]
      }
    }
    service = {
      pipelines = { metrics = { receivers = ["prometheus"], exporters = ["awsemf"] } }
    }
  })

  metrics_sidecar = {
    for queue in keys(var.worker_queues) : queue => {
      name                   = "metrics"
      image                  = var.otel_collector_image
      essential              = false # the worker goes on without its metrics; scaling then holds still
      user                   = "10001"
      readonlyRootFilesystem = true
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.workers[queue].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "metrics"
        }
      }
    }
  }
}
