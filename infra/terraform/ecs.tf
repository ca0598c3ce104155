# Fargate services: one per worker task queue (revenue, edi, portal, documents, collections) and the console,
# plus a batch task definition the scheduler runs for each batch flow. One image for all: its entrypoint is
# `carecycle`, and the command picks the process (`worker --queue NAME`, `console`, `batch run NAME`).

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

  # Non-secret settings only (workers/settings.py reads them). Secrets come from locals in secrets.tf.
  base_environment = [
    { name = "CARECYCLE_HOME", value = local.carecycle_home },
    { name = "CARECYCLE_DATABASE_URL", value = local.database_url },
    { name = "TEMPORAL_ADDRESS", value = var.temporal_address },
    { name = "TEMPORAL_NAMESPACE", value = var.temporal_namespace },
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

  worker_containers = {
    for queue, spec in var.worker_queues : queue => merge(local.container_defaults, {
      name        = "worker"
      command     = ["worker", "--queue", queue]
      environment = local.base_environment
      secrets     = concat(local.common_secrets, spec.portal_credentials ? local.portal_secrets : [])
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

  console_container = merge(local.container_defaults, {
    name    = "console"
    command = var.console_command
    environment = concat(local.base_environment, [
      { name = "CARECYCLE_BIND_HOST", value = "0.0.0.0" },
      { name = "CARECYCLE_CONSOLE_PORT", value = tostring(var.console.port) },
    ])
    secrets      = concat(local.common_secrets, local.console_secrets)
    portMappings = [{ containerPort = var.console.port, protocol = "tcp" }]
    stopTimeout  = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.console.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "console"
      }
    }
  })

  batch_container = merge(local.container_defaults, {
    name        = "batch"
    command     = ["batch", "list"] # each schedule overrides it with `batch run NAME`
    environment = concat(local.base_environment, [{ name = "CARECYCLE_AUDIT_EXPORT_BUCKET", value = aws_s3_bucket.audit_exports.id }])
    secrets     = local.common_secrets
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
  container_definitions    = jsonencode([local.worker_containers[each.key]])

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

resource "aws_ecs_task_definition" "console" {
  family                   = "${local.name}-console"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.console.cpu
  memory                   = var.console.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task["console"].arn
  container_definitions    = jsonencode([local.console_container])

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
  task_role_arn            = aws_iam_role.task["batch"].arn
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

# --- services --------------------------------------------------------------------------------------

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

resource "aws_ecs_service" "console" {
  name                   = "console"
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.console.arn
  desired_count          = var.console.desired_count
  launch_type            = "FARGATE"
  enable_execute_command = true
  propagate_tags         = "SERVICE"

  network_configuration {
    subnets          = aws_subnet.private_app[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.console.arn
    container_name   = "console"
    container_port   = var.console.port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# --- autoscaling: each queue within its own range, on CPU ----------------------------------------------

resource "aws_appautoscaling_target" "worker" {
  for_each = var.worker_queues

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "worker_cpu" {
  for_each = var.worker_queues

  name               = "${local.name}-worker-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_target" "console" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.console.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.console.min_count
  max_capacity       = var.console.max_count
}

resource "aws_appautoscaling_policy" "console_cpu" {
  name               = "${local.name}-console-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.console.service_namespace
  resource_id        = aws_appautoscaling_target.console.resource_id
  scalable_dimension = aws_appautoscaling_target.console.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.console.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# --- batch: one schedule per flow -------------------------------------------------------------------

resource "aws_scheduler_schedule" "batch" {
  #checkov:skip=CKV_AWS_297:the schedule holds only a flow name and a task definition ARN: nothing confidential to encrypt with a CMK
  for_each = var.batch_schedules

  name                = "${local.name}-${each.key}"
  schedule_expression = each.value

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.main.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.batch.arn
      launch_type         = "FARGATE"

      network_configuration {
        subnets          = aws_subnet.private_app[*].id
        security_groups  = [aws_security_group.tasks.id]
        assign_public_ip = false
      }
    }

    input = jsonencode({
      containerOverrides = [{ name = "batch", command = ["batch", "run", each.key, "--json"] }]
    })

    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
