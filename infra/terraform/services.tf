# The long-running processes besides the workers, one ECS service each, all from the same image:
#   console         `carecycle console`        behind the web load balancer on 443
#   api             `carecycle api`            the FHIR integration API, behind the web load balancer on 8081
#   codec-server    `carecycle codec-server`   payload decoding for the Temporal Web UI, on 8443
#   hl7-listener    `carecycle hl7-listener`   MLLP, behind the network load balancer on 2575
#   batch-serve     `carecycle batch serve`    the batch flows as Prefect deployments on their schedules
#   prefect-server  `carecycle batch server`   the Prefect API and UI (prefect_mode = server), UI on 4200
#   webhooks        `carecycle webhooks`       the vendors' webhook receiver, behind its own public load balancer
#                                              (webhooks.tf) on 443, POST /webhooks/* only

locals {
  service_ports = {
    console          = 8080
    api              = 8081
    "codec-server"   = 8234
    "hl7-listener"   = 2575
    "prefect-server" = 4200
    webhooks         = 8095
  }

  bind_all = { name = "CARECYCLE_BIND_HOST", value = "0.0.0.0" }

  # Inside the VPC the Prefect server is reached through Cloud Map; people reach its UI on the web balancer.
  prefect_api_url = var.prefect_mode == "server" ? "http://prefect-server.${aws_service_discovery_private_dns_namespace.main.name}:4200/api" : var.prefect_cloud_api_url

  batch_environment = concat(local.base_environment, [
    { name = "PREFECT_API_URL", value = local.prefect_api_url },
    { name = "CARECYCLE_BATCH_TIMEZONE", value = var.batch_timezone },
    { name = "CARECYCLE_ARCHIVE_URL", value = "s3://${aws_s3_bucket.audit_exports.id}/archive" },
    { name = "CARECYCLE_ARCHIVE_RETENTION_DAYS", value = tostring(var.audit_export_retention_days) },
  ])

  service_specs = {
    console = {
      command = ["console"]
      environment = concat(local.base_environment, [
        local.bind_all,
        { name = "CARECYCLE_CONSOLE_PORT", value = "8080" },
        # Behind TLS: the session cookie only travels over HTTPS. Every instance signs with the same secret.
        { name = "CARECYCLE_CONSOLE_SECURE_COOKIES", value = "1" },
      ])
      secrets = concat(local.common_secrets, local.console_secrets)
    }
    api = {
      command     = ["api"]
      environment = concat(local.base_environment, [local.bind_all, { name = "CARECYCLE_API_PORT", value = "8081" }])
      secrets     = local.common_secrets
    }
    "codec-server" = {
      command = ["codec-server"]
      environment = [
        local.bind_all,
        { name = "CARECYCLE_HOME", value = local.carecycle_home },
        { name = "CARECYCLE_CODEC_SERVER_PORT", value = "8234" },
        { name = "CARECYCLE_CODEC_CORS_ORIGINS", value = join(",", var.temporal_ui_origins) },
        { name = "TEMPORAL_ADDRESS", value = local.temporal_address },
        { name = "CARECYCLE_LOG_LEVEL", value = var.log_level },
      ]
      # The codec keys and its own token only: it touches neither the database nor Temporal.
      secrets = local.codec_server_secrets
    }
    "hl7-listener" = {
      command = ["hl7-listener"]
      # MLLP on 2575; its /health and /ready on 9464 (MLLP has no place for them).
      environment = concat(local.base_environment, [
        local.bind_all,
        { name = "CARECYCLE_HL7_PORT", value = "2575" },
        { name = "CARECYCLE_METRICS_PORT", value = "9464" },
      ])
      secrets = local.common_secrets
    }
    "batch-serve" = {
      command     = ["batch", "serve"]
      environment = concat(local.batch_environment, [local.bind_all, { name = "CARECYCLE_METRICS_PORT", value = "9464" }])
      secrets     = concat(local.common_secrets, local.prefect_secrets)
    }
    "prefect-server" = {
      command = ["batch", "server"]
      environment = concat(local.base_environment, [
        local.bind_all,
        { name = "CARECYCLE_PREFECT_PORT", value = "4200" },
        # Its own database beside carecycle's on the same RDS instance, created on first start.
        { name = "CARECYCLE_PREFECT_DATABASE", value = "prefect" },
        { name = "PREFECT_UI_API_URL", value = "https://${local.web_host}:4200/api" },
      ])
      secrets = local.database_secrets
    }
    webhooks = {
      command = ["webhooks"]
      # The public URL is what the SMS vendor signs its callbacks over: it must be the one the vendors call.
      environment = concat(local.base_environment, [
        local.bind_all,
        { name = "CARECYCLE_WEBHOOKS_PORT", value = "8095" },
        { name = "CARECYCLE_WEBHOOKS_URL", value = "https://${local.webhooks_host}" },
      ])
      # The vendors' keys check the signatures (SMS auth token; the e-mail and video webhook secret).
      secrets = concat(local.common_secrets, local.vendor_secrets)
    }
  }

  services = { for name, spec in local.service_specs : name => spec if name != "prefect-server" || var.prefect_mode == "server" }

  health_ports = merge(local.service_ports, { "batch-serve" = 9464, "hl7-listener" = 9464 })

  service_containers = {
    for name, spec in local.services : name => merge(local.container_defaults, {
      name         = name
      command      = spec.command
      environment  = spec.environment
      secrets      = spec.secrets
      portMappings = contains(keys(local.service_ports), name) ? [{ containerPort = local.service_ports[name], protocol = "tcp" }] : []
      healthCheck = {
        command     = ["CMD", local.python, "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${name == "prefect-server" ? "4200/api" : local.health_ports[name]}/health', timeout=4)"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 90
      }
      stopTimeout = 60
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.services[name].name
          awslogs-region        = local.region
          awslogs-stream-prefix = name
        }
      }
    })
  }

  # Which load balancer's target group fronts each service.
  web_target_groups = merge(
    {
      console        = aws_lb_target_group.web["console"].arn
      api            = aws_lb_target_group.web["api"].arn
      "codec-server" = aws_lb_target_group.web["codec-server"].arn
      "hl7-listener" = aws_lb_target_group.hl7.arn
      webhooks       = aws_lb_target_group.webhooks.arn
    },
    var.prefect_mode == "server" ? { "prefect-server" = aws_lb_target_group.web["prefect-server"].arn } : {},
  )
}

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.services[each.key].cpu
  memory                   = var.services[each.key].memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  container_definitions    = jsonencode([local.service_containers[each.key]])

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

resource "aws_ecs_service" "service" {
  for_each = local.services

  name                   = each.key
  cluster                = aws_ecs_cluster.main.id
  task_definition        = aws_ecs_task_definition.service[each.key].arn
  desired_count          = var.services[each.key].desired_count
  launch_type            = "FARGATE"
  enable_execute_command = true
  propagate_tags         = "SERVICE"

  health_check_grace_period_seconds = contains(keys(local.web_target_groups), each.key) ? 120 : null

  network_configuration {
    subnets          = aws_subnet.private_app[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = contains(keys(local.web_target_groups), each.key) ? [local.web_target_groups[each.key]] : []

    content {
      target_group_arn = load_balancer.value
      container_name   = each.key
      container_port   = local.service_ports[each.key]
    }
  }

  dynamic "service_registries" {
    for_each = each.key == "prefect-server" ? [aws_service_discovery_service.prefect.arn] : []

    content {
      registry_arn = service_registries.value
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.web, aws_lb_listener.hl7, aws_lb_listener.webhooks]
}

# The console used to be its own resources: keep its state (and its running service) across the rename.
moved {
  from = aws_ecs_service.console
  to   = aws_ecs_service.service["console"]
}

moved {
  from = aws_ecs_task_definition.console
  to   = aws_ecs_task_definition.service["console"]
}

# --- Cloud Map: the Prefect server's name inside the VPC ---------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "main" {
  name        = "${var.environment}.carecycle.internal"
  description = "carecycle services reached by name inside the VPC"
  vpc         = aws_vpc.main.id
}

resource "aws_service_discovery_service" "prefect" {
  name = "prefect-server"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

# --- autoscaling of the services on CPU -------------------------------------------------------------------

resource "aws_appautoscaling_target" "service" {
  for_each = local.services

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.service[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.services[each.key].min_count
  max_capacity       = var.services[each.key].max_count
}

resource "aws_appautoscaling_policy" "service_cpu" {
  for_each = local.services

  name               = "${local.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.service[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.services[each.key].cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

moved {
  from = aws_appautoscaling_target.console
  to   = aws_appautoscaling_target.service["console"]
}

moved {
  from = aws_appautoscaling_policy.console_cpu
  to   = aws_appautoscaling_policy.service_cpu["console"]
}
