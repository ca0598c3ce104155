# Fargate: one service per worker task queue (this file), one per other process (services.tf), and a task
# definition for one-off commands (`carecycle db upgrade`, `carecycle batch run NAME`). One image for all, its
# entrypoint `carecycle`; the command picks the process. Every command here is a `carecycle` command, and
# tests/integration/test_terraform.py parses each with the CLI's own parser.

resource "aws_ecr_repository" "carecycle" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.data.arn
  }
}

resource "aws_ecr_lifecycle_policy" "carecycle" {
  repository = aws_ecr_repository.carecycle.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.logs.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.ecs_exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- container definitions --------------------------------------------------------------------------

locals {
  database_url = "postgresql+psycopg://${var.db_username}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.db_name}?sslmode=require"

  # The vendors' addresses and sender names (not secret), for the queues that reach them.
  vendor_environment = [for name, value in var.visit_vendor_settings : { name = name, value = value }]

  # Non-secret settings only (workers/settings.py reads them). Secrets come from locals in secrets.tf.
  base_environment = [
    { name = "CARECYCLE_HOME", value = local.carecycle_home },
    { name = "CARECYCLE_DATABASE_URL", value = local.database_url },
    { name = "TEMPORAL_ADDRESS", value = local.temporal_address },
    { name = "TEMPORAL_NAMESPACE", value = local.temporal_namespace },
    { name = "CARECYCLE_DOCUMENTS_BACKEND", value = "s3" },
    { name = "CARECYCLE_S3_BUCKET", value = aws_s3_bucket.documents.id },
    { name = "CARECYCLE_S3_REGION", value = local.region },
    { name = "CARECYCLE_S3_KMS_KEY_ID", value = aws_kms_key.data.arn },
    { name = "CARECYCLE_LOG_LEVEL", value = var.log_level },
    { name = "PREFECT_HOME", value = "${local.carecycle_home}/prefect" },
    { name = "PREFECT_SERVER_ANALYTICS_ENABLED", value = "false" },
  ]

  # The root filesystem is read-only; the task's own scratch space is mounted here.
  writable_mounts = [
    { sourceVolume = "home", containerPath = local.carecycle_home, readOnly = false },
    { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
  ]

  container_defaults = {
    image                  = local.image
    essential              = true
    user                   = "10001"
    readonlyRootFilesystem = true
    mountPoints            = local.writable_mounts
    linuxParameters        = { initProcessEnabled = true }
  }

  # Liveness: the process's own /health (the image has python, no curl); readiness is the load balancers' /ready.
  python = "/app/.venv/bin/python"
  worker_health_check = {
    command     = ["CMD", local.python, "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/health', timeout=4)"]
    interval    = 30
    timeout     = 5
    retries     = 3
    startPeriod = 60
  }

  worker_containers = {
    for queue, spec in var.worker_queues : queue => merge(local.container_defaults, {
      name    = "worker"
      image   = contains(local.queue_needs[queue], "browser") ? local.browser_image : local.image
      command = ["worker", "--queue", queue]
      environment = concat(
        local.base_environment,
        [
          { name = "CARECYCLE_WORKER_DEPLOYMENT", value = var.worker_deployment_name },
          { name = "CARECYCLE_BUILD_ID", value = var.image_tag },
          { name = "CARECYCLE_METRICS_PORT", value = "9464" },
          { name = "CARECYCLE_METRICS_INTERVAL_SECONDS", value = "30" },
        ],
        contains(local.queue_needs[queue], "messaging_vendors") ? local.vendor_environment : [],
      )
      secrets = concat(
        local.common_secrets,
        contains(local.queue_needs[queue], "portal_credentials") ? local.portal_secrets : [],
        contains(local.queue_needs[queue], "messaging_vendors") ? local.vendor_secrets : [],
      )
      healthCheck = local.worker_health_check
      # Workers finish their running activities on SIGTERM (graceful shutdown) before they are killed.
      stopTimeout = 120
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.workers[queue].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "worker"
        }
      }
    })
  }

  batch_container = merge(local.container_defaults, {
    name        = "batch"
    command     = ["batch", "list"] # a one-off run overrides it: ["db", "upgrade"], ["batch", "run", "NAME"]
    environment = local.batch_environment
    secrets     = concat(local.common_secrets, local.prefect_secrets)
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.batch.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "batch"
      }
    }
  })
}

# --- task definitions --------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "worker" {
  for_each = var.worker_queues

  family                   = "${local.name}-worker-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task["worker-${each.key}"].arn
  # The worker and its metrics sidecar (observability.tf), which ships /metrics to CloudWatch.
  container_definitions = jsonencode([local.worker_containers[each.key], local.metrics_sidecar[each.key]])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "home"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_task_definition" "batch" {
  family                   = "${local.name}-batch"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.batch_task.cpu
  memory                   = var.batch_task.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task["batch-serve"].arn
  container_definitions    = jsonencode([local.batch_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "home"
  }

  volume {
    name = "tmp"
  }
}

# --- worker services -------------------------------------------------------------------------------------

resource "aws_ecs_service" "worker" {
  for_each = var.worker_queues

  name                   = "worker-${each.key}"
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.worker[each.key].arn
  desired_count          = each.value.desired_count
  launch_type            = "FARGATE"
  enable_execute_command = true
  propagate_tags         = "SERVICE"

  network_configuration {
    subnets          = aws_subnet.private_app[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Autoscaling owns the running count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# --- autoscaling: each queue on its backlog per running task --------------------------------------------

resource "aws_appautoscaling_target" "worker" {
  for_each = var.worker_queues

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

# The queue's approximate backlog (activity tasks waiting, as the workers sample it from Temporal and the
# sidecar ships it to CloudWatch) divided by the tasks running: scale out when each task has more than its
# target waiting, in when less.
resource "aws_appautoscaling_policy" "worker_backlog" {
  for_each = var.worker_queues

  name               = "${local.name}-${each.key}-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.backlog_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "backlog"
        return_data = false

        metric_stat {
          stat = "Maximum"

          metric {
            namespace   = local.metrics_namespace
            metric_name = "carecycle_task_queue_backlog"

            dimensions {
              name  = "task_queue"
              value = each.key
            }

            dimensions {
              name  = "task_type"
              value = "activity"
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main.name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        expression  = "backlog / IF(tasks > 0, tasks, 1)"
        label       = "activity backlog per running task"
        return_data = true
      }
    }
  }
}
