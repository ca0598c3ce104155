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

output "audit_exports_bucket" {
  description = "Object-locked S3 bucket for audit exports."
  value       = aws_s3_bucket.audit_exports.id
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
    portal_credentials = aws_secretsmanager_secret.portal_credentials.arn
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

output "batch_task_definition_arn" {
  description = "Task definition to run `carecycle batch run NAME` or `carecycle db upgrade` by hand."
  value       = aws_ecs_task_definition.batch.arn
}

output "console_url" {
  description = "HTTPS address of the console's load balancer (point a DNS name with the certificate's name at it)."
  value       = "https://${aws_lb.console.dns_name}"
}

output "log_groups" {
  description = "CloudWatch log groups of the carecycle processes."
  value = merge(
    { for queue, group in aws_cloudwatch_log_group.workers : "worker-${queue}" => group.name },
    { console = aws_cloudwatch_log_group.console.name, batch = aws_cloudwatch_log_group.batch.name },
  )
}
