output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.main.id
}

output "private_app_subnet_ids" {
  description = "Private subnets the tasks run in."
  value       = aws_subnet.private_app[*].id
}

output "tasks_security_group_id" {
  description = "Security group of the carecycle tasks (for one-off tasks such as `carecycle db upgrade`)."
  value       = aws_security_group.tasks.id
}

output "database_endpoint" {
  description = "Host:port of the RDS PostgreSQL instance."
  value       = aws_db_instance.main.endpoint
}

output "database_master_secret_arn" {
  description = "Secrets Manager secret (managed and rotated by RDS) holding the master password."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "documents_bucket" {
  description = "S3 bucket of the document store (CARECYCLE_S3_BUCKET)."
  value       = aws_s3_bucket.documents.id
}

output "archive_url" {
  description = "The history archive (CARECYCLE_ARCHIVE_URL): the object-locked bucket's archive/ prefix; check it with `carecycle audit verify-archive --archive URL`."
  value       = "s3://${aws_s3_bucket.audit_exports.id}/archive"
}

output "kms_key_arns" {
  description = "Customer-managed keys by purpose."
  value = {
    data    = aws_kms_key.data.arn
    secrets = aws_kms_key.secrets.arn
    logs    = aws_kms_key.logs.arn
  }
}

output "secret_arns" {
  description = "Secrets whose values are put out of band (docs/deployment.md)."
  value = {
    codec_keys         = aws_secretsmanager_secret.codec_keys.arn
    codec_server_token = aws_secretsmanager_secret.codec_server_token.arn
    actor_keys         = aws_secretsmanager_secret.actor_keys.arn
    visit_vendors      = aws_secretsmanager_secret.visit_vendors.arn
    console_session    = aws_secretsmanager_secret.console_session_secret.arn
    portal_credentials = aws_secretsmanager_secret.portal_credentials.arn
    prefect_api_key    = try(aws_secretsmanager_secret.prefect_api_key[0].arn, null)
    temporal_api_key   = local.temporal_api_key_secret_arn
    temporal_mtls      = try(aws_secretsmanager_secret.temporal_mtls[0].arn, null)
  }
}

output "ecr_repository_url" {
  description = "Push the carecycle image here."
  value       = aws_ecr_repository.carecycle.repository_url
}

output "ecs_cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "worker_services" {
  description = "ECS service name per task queue."
  value       = { for queue, service in aws_ecs_service.worker : queue => service.name }
}

output "services" {
  description = "ECS service name of each other process (console, api, codec-server, hl7-listener, batch-serve, prefect-server, webhooks)."
  value       = { for name, service in aws_ecs_service.service : name => service.name }
}

output "batch_task_definition_arn" {
  description = "Task definition to run `carecycle batch run NAME` or `carecycle db upgrade` by hand."
  value       = aws_ecs_task_definition.batch.arn
}

output "urls" {
  description = "Where people and the EHR reach carecycle (point public_hostname's DNS at the load balancers)."
  value = {
    console      = "https://${local.web_host}"
    codec_server = "https://${local.web_host}:8443"
    fhir_api     = "https://${local.web_host}:8081"
    prefect_ui   = var.prefect_mode == "server" ? "https://${local.web_host}:4200" : null
    hl7_mllp     = "${local.hl7_host}:2575 (${var.hl7_listener_protocol})"
    webhooks     = "https://${local.webhooks_host}/webhooks" # what the SMS, e-mail and video vendors are given
  }
}

output "load_balancer_dns_names" {
  description = "DNS names of the web, the HL7 and the webhook load balancers (public_hostname's and webhooks_hostname's records point here)."
  value       = { web = aws_lb.console.dns_name, hl7 = aws_lb.hl7.dns_name, webhooks = aws_lb.webhooks.dns_name }
}

output "temporal" {
  description = "The Temporal namespace and endpoint the tasks use."
  value       = { namespace = local.temporal_namespace, address = local.temporal_address }
}

output "log_groups" {
  description = "CloudWatch log groups of the carecycle processes."
  value = merge(
    { for queue, group in aws_cloudwatch_log_group.workers : "worker-${queue}" => group.name },
    { for name, group in aws_cloudwatch_log_group.services : name => group.name },
    { batch = aws_cloudwatch_log_group.batch.name, metrics = aws_cloudwatch_log_group.metrics.name },
  )
}
