# --- where and what -------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Deployment name (prod, staging, ...): part of every resource name."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}$", var.environment))
    error_message = "environment must be 2-14 lowercase letters, digits or dashes, starting with a letter (load balancer names allow 32 characters)."
  }
}

variable "tags" {
  description = "Extra tags put on every resource."
  type        = map(string)
  default     = {}
}

variable "image_tag" {
  description = "Tag (or digest, as sha256:...) of the carecycle image in the ECR repository this module creates."
  type        = string
}

variable "container_image" {
  description = "Full image reference to run instead of the module's ECR repository (null: use the repository)."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

# --- network --------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (at least 2: RDS needs two)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone outage)."
  type        = bool
  default     = false
}

variable "egress_https_cidrs" {
  description = "Where tasks may open HTTPS (443): clearinghouse, payer portals, Temporal Cloud, AWS APIs."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs, in days."
  type        = number
  default     = 365
}

# --- Temporal -------------------------------------------------------------------------------------------

variable "temporal_address" {
  description = "Temporal frontend host:port: Temporal Cloud (<namespace>.<account>.tmprl.cloud:7233) or a self-hosted cluster."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+:[0-9]{2,5}$", var.temporal_address))
    error_message = "temporal_address must be host:port."
  }
}

variable "temporal_namespace" {
  description = "Temporal namespace the workers and the console use."
  type        = string
  default     = "default"
}

variable "temporal_api_key_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the Temporal Cloud API key (null: the module creates an empty one when temporal_auth is api_key)."
  type        = string
  default     = null
}

variable "temporal_auth" {
  description = "How the workers authenticate to Temporal: api_key (Temporal Cloud), mtls (client certificate from Secrets Manager) or none (self-hosted inside the VPC)."
  type        = string
  default     = "api_key"

  validation {
    condition     = contains(["api_key", "mtls", "none"], var.temporal_auth)
    error_message = "temporal_auth must be api_key, mtls or none."
  }
}

variable "temporal_self_hosted_cidrs" {
  description = "CIDR blocks of a self-hosted Temporal frontend reached on temporal_port (empty for Temporal Cloud, reached over egress_https_cidrs)."
  type        = list(string)
  default     = []
}

variable "temporal_port" {
  description = "TCP port of the Temporal frontend (Temporal Cloud and the default self-hosted port are 7233)."
  type        = number
  default     = 7233
}

# --- database -------------------------------------------------------------------------------------------

variable "db_engine_version" {
  description = "PostgreSQL engine version of the RDS instance."
  type        = string
  default     = "16.4"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage of the RDS instance, in GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling of the RDS instance, in GiB."
  type        = number
  default     = 1000
}

variable "db_multi_az" {
  description = "Run the database with a synchronous standby in a second zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 35

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (turn off only to tear an environment down on purpose)."
  type        = bool
  default     = true
}

variable "db_name" {
  description = "Name of the carecycle database."
  type        = string
  default     = "carecycle"
}

variable "db_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "carecycle"
}

# --- documents and audit exports -----------------------------------------------------------------------

variable "documents_noncurrent_version_days" {
  description = "Days a replaced or deleted document version is kept before it expires."
  type        = number
  default     = 2555
}

variable "documents_infrequent_access_days" {
  description = "Days after which documents move to STANDARD_IA."
  type        = number
  default     = 90
}

variable "audit_export_retention_days" {
  description = "Object-lock (compliance mode) retention of audit exports, in days (HIPAA keeps records six years)."
  type        = number
  default     = 2190

  validation {
    condition     = var.audit_export_retention_days >= 365
    error_message = "audit_export_retention_days must be at least 365."
  }
}

variable "access_log_retention_days" {
  description = "Days the S3 and load-balancer access logs are kept."
  type        = number
  default     = 400
}

# --- services -------------------------------------------------------------------------------------------

variable "worker_queues" {
  description = "Task queues served by worker services, with each queue's size and autoscaling range."
  type = map(object({
    cpu                = number
    memory             = number
    desired_count      = number
    min_count          = number
    max_count          = number
    cpu_target_percent = number
    documents_access   = bool
    portal_credentials = bool
  }))
  default = {
    revenue     = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 10, cpu_target_percent = 60, documents_access = false, portal_credentials = false }
    edi         = { cpu = 512, memory = 1024, desired_count = 2, min_count = 1, max_count = 6, cpu_target_percent = 60, documents_access = true, portal_credentials = false }
    portal      = { cpu = 1024, memory = 4096, desired_count = 1, min_count = 1, max_count = 4, cpu_target_percent = 50, documents_access = true, portal_credentials = true }
    documents   = { cpu = 512, memory = 2048, desired_count = 1, min_count = 1, max_count = 4, cpu_target_percent = 60, documents_access = true, portal_credentials = false }
    collections = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 3, cpu_target_percent = 60, documents_access = true, portal_credentials = false }
  }

  validation {
    condition     = alltrue([for q in values(var.worker_queues) : q.min_count <= q.desired_count && q.desired_count <= q.max_count])
    error_message = "each queue needs min_count <= desired_count <= max_count."
  }
}

variable "console" {
  description = "Size and autoscaling range of the web console service."
  type = object({
    cpu                = number
    memory             = number
    desired_count      = number
    min_count          = number
    max_count          = number
    cpu_target_percent = number
    port               = number
  })
  default = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 6, cpu_target_percent = 60, port = 8080 }
}

variable "console_command" {
  description = "Command (after the `carecycle` entrypoint) that serves the web console on CARECYCLE_CONSOLE_PORT."
  type        = list(string)
  default     = ["console"]
}

variable "console_internet_facing" {
  description = "Put the console's load balancer on the internet (true) or keep it internal to the VPC and its VPN (false)."
  type        = bool
  default     = false
}

variable "console_allowed_cidrs" {
  description = "CIDR blocks allowed to reach the console over HTTPS (an office or VPN range)."
  type        = list(string)
}

variable "console_certificate_arn" {
  description = "ACM certificate ARN for the console's HTTPS listener."
  type        = string
}

variable "batch_schedules" {
  description = "Batch flows run on a schedule (flow name => EventBridge Scheduler expression), each as a one-off ECS task running `carecycle batch run NAME`."
  type        = map(string)
  default = {
    credential-expiry-sweep  = "cron(0 6 * * ? *)"
    ar-aging-snapshot        = "cron(30 6 * * ? *)"
    remittance-intake        = "rate(15 minutes)"
    exclusion-screening      = "cron(0 7 1 * ? *)"
    eligibility-for-tomorrow = "cron(0 23 * * ? *)"
  }
}

variable "batch_task" {
  description = "Size of the scheduled batch task."
  type = object({
    cpu    = number
    memory = number
  })
  default = { cpu = 512, memory = 1024 }
}

variable "log_retention_days" {
  description = "Retention of the application log groups, in days (at least a year for audits)."
  type        = number
  default     = 400

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}

variable "log_level" {
  description = "Log level of the carecycle processes."
  type        = string
  default     = "INFO"
}

variable "alarm_topic_arn" {
  description = "SNS topic for alarms (null: no alarm actions)."
  type        = string
  default     = null
}
