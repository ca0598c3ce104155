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

variable "browser_image_tag" {
  description = "Tag (or sha256: digest) of the image with Chromium, run by the task queues that need a browser (the portal queue); null: image_tag with -chromium appended (scripts/build-image tags both)."
  type        = string
  default     = null
}

variable "browser_container_image" {
  description = "Full reference of the Chromium image to run instead of the module's repository (null: use the repository)."
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

variable "temporal_cloud" {
  description = "Manage the Temporal Cloud namespace here (name, region as aws-<region>, retention in days): its search attributes and codec server come with it, and the tasks connect to its endpoint. null: a namespace managed elsewhere or a self-hosted cluster, reached at temporal_address / temporal_namespace."
  type = object({
    namespace      = string
    region         = string
    retention_days = number
  })
  default = null

  validation {
    condition     = var.temporal_cloud == null || try(var.temporal_cloud.retention_days >= 1 && var.temporal_cloud.retention_days <= 90, false)
    error_message = "temporal_cloud.retention_days must be between 1 and 90 (closed histories older than that are in the archive)."
  }
}

variable "temporal_address" {
  description = "Temporal frontend host:port when temporal_cloud is null: Temporal Cloud (<namespace>.<account>.tmprl.cloud:7233) or a self-hosted cluster."
  type        = string
  default     = null

  validation {
    condition     = var.temporal_address == null || can(regex("^[A-Za-z0-9.-]+:[0-9]{2,5}$", var.temporal_address))
    error_message = "temporal_address must be host:port."
  }
}

variable "temporal_namespace" {
  description = "Temporal namespace the tasks use when temporal_cloud is null."
  type        = string
  default     = "default"
}

variable "temporal_api_key_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the Temporal Cloud API key (null: the module creates an empty one when temporal_auth is api_key)."
  type        = string
  default     = null
}

variable "temporal_auth" {
  description = "How the tasks authenticate to Temporal: api_key (Temporal Cloud), mtls (client certificate from Secrets Manager) or none (self-hosted inside the VPC)."
  type        = string
  default     = "api_key"

  validation {
    condition     = contains(["api_key", "mtls", "none"], var.temporal_auth)
    error_message = "temporal_auth must be api_key, mtls or none."
  }
}

variable "temporal_client_ca_pem" {
  description = "With temporal_cloud and temporal_auth = mtls: the CA certificate (PEM) the namespace accepts client certificates from."
  type        = string
  default     = null
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

variable "temporal_ui_origins" {
  description = "Origins of the Temporal Web UI allowed to call the codec server from a browser (Temporal Cloud's, or a self-hosted UI's)."
  type        = list(string)
  default     = ["https://cloud.temporal.io"]
}

variable "worker_deployment_name" {
  description = "Name of the Worker Deployment the workers run as versions of (their build id is image_tag); promote a new build with `carecycle deployment promote` (docs/deployment.md)."
  type        = string
  default     = "carecycle"
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
  description = "Size and autoscaling range of each task queue's worker service. The keys are the task queues (activities/contracts/queues.py); what each queue may touch comes from queue_needs.json, which the code writes (workers/registry.py). Scaling follows the queue's backlog per running task."
  type = map(object({
    cpu                     = number
    memory                  = number
    desired_count           = number
    min_count               = number
    max_count               = number
    backlog_per_task_target = number
  }))
  default = {
    revenue   = { cpu = 1024, memory = 2048, desired_count = 2, min_count = 2, max_count = 10, backlog_per_task_target = 50 }
    portal    = { cpu = 1024, memory = 4096, desired_count = 1, min_count = 1, max_count = 4, backlog_per_task_target = 5 }
    documents = { cpu = 512, memory = 2048, desired_count = 1, min_count = 1, max_count = 4, backlog_per_task_target = 20 }
  }

  validation {
    condition     = alltrue([for q in values(var.worker_queues) : q.min_count <= q.desired_count && q.desired_count <= q.max_count])
    error_message = "each queue needs min_count <= desired_count <= max_count."
  }
}

variable "services" {
  description = "Size and autoscaling range (on CPU) of the other long-running services: console, api, codec-server, hl7-listener, batch-serve, webhooks and prefect-server (the last only with prefect_mode = server)."
  type = map(object({
    cpu                = number
    memory             = number
    desired_count      = number
    min_count          = number
    max_count          = number
    cpu_target_percent = number
  }))
  default = {
    console          = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 6, cpu_target_percent = 60 }
    api              = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 6, cpu_target_percent = 60 }
    "codec-server"   = { cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4, cpu_target_percent = 60 }
    "hl7-listener"   = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 4, cpu_target_percent = 60 }
    "batch-serve"    = { cpu = 1024, memory = 2048, desired_count = 1, min_count = 1, max_count = 1, cpu_target_percent = 80 }
    "prefect-server" = { cpu = 512, memory = 1024, desired_count = 1, min_count = 1, max_count = 2, cpu_target_percent = 60 }
    webhooks         = { cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4, cpu_target_percent = 60 }
  }

  validation {
    condition = alltrue([
      for name in ["console", "api", "codec-server", "hl7-listener", "batch-serve", "prefect-server", "webhooks"] : contains(keys(var.services), name)
    ])
    error_message = "services needs an entry for each of console, api, codec-server, hl7-listener, batch-serve, prefect-server and webhooks."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_count <= s.desired_count && s.desired_count <= s.max_count])
    error_message = "each service needs min_count <= desired_count <= max_count."
  }
}

variable "public_hostname" {
  description = "DNS name (the certificate's) that people and the EHR use for the load balancers: the console on 443, the codec server on 8443, the FHIR API on 8081, the Prefect UI on 4200, HL7 on 2575. null: the load balancers' own DNS names."
  type        = string
  default     = null
}

variable "webhooks_hostname" {
  description = "DNS name (webhooks_certificate_arn's) the messaging and video vendors are given for their webhooks (https://<it>/webhooks/...). null: the webhook load balancer's own DNS name."
  type        = string
  default     = null
}

variable "webhooks_certificate_arn" {
  description = "ACM certificate ARN (for webhooks_hostname) of the webhook load balancer's HTTPS listener. null: console_certificate_arn."
  type        = string
  default     = null
}

variable "webhooks_allowed_cidrs" {
  description = "CIDR blocks allowed to reach the webhook load balancer (internet-facing): the vendors publish no stable ranges, so the internet by default; the receiver checks every request's signature."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "console_internet_facing" {
  description = "Put the web load balancer on the internet (true) or keep it internal to the VPC and its VPN (false)."
  type        = bool
  default     = false
}

variable "console_allowed_cidrs" {
  description = "CIDR blocks allowed to reach the web load balancer (console, codec server, API, Prefect UI) and the HL7 listener: an office, VPN or EHR range."
  type        = list(string)
}

variable "console_certificate_arn" {
  description = "ACM certificate ARN (for public_hostname) of the HTTPS listeners and the HL7 TLS listener."
  type        = string
}

variable "hl7_listener_protocol" {
  description = "MLLP on the network load balancer: TLS (terminated at the load balancer with console_certificate_arn) or TCP (for senders that cannot do TLS; keep them on the VPN)."
  type        = string
  default     = "TLS"

  validation {
    condition     = contains(["TLS", "TCP"], var.hl7_listener_protocol)
    error_message = "hl7_listener_protocol must be TLS or TCP."
  }
}

variable "prefect_mode" {
  description = "Where the batch plane's Prefect API lives: server (a Prefect server service here, its database beside carecycle's on RDS) or cloud (Prefect Cloud: prefect_cloud_api_url and an API key in the created secret)."
  type        = string
  default     = "server"

  validation {
    condition     = contains(["server", "cloud"], var.prefect_mode)
    error_message = "prefect_mode must be server or cloud."
  }
}

variable "prefect_cloud_api_url" {
  description = "With prefect_mode = cloud: the workspace API URL (https://api.prefect.cloud/api/accounts/<id>/workspaces/<id>)."
  type        = string
  default     = null
}

variable "visit_vendor_settings" {
  description = "The patients' SMS, e-mail and video vendors for the queues that reach them (queue_needs.json: messaging_vendors): CARECYCLE_SMS_URL, CARECYCLE_SMS_ACCOUNT_SID, CARECYCLE_SMS_FROM, CARECYCLE_EMAIL_URL, CARECYCLE_EMAIL_FROM, CARECYCLE_VIDEO_URL, CARECYCLE_WEBHOOKS_URL, CARECYCLE_PRACTICE_TIMEZONE. Their keys go into the visit-vendors secret."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for name in keys(var.visit_vendor_settings) : contains([
        "CARECYCLE_SMS_URL", "CARECYCLE_SMS_ACCOUNT_SID", "CARECYCLE_SMS_FROM", "CARECYCLE_EMAIL_URL",
        "CARECYCLE_EMAIL_FROM", "CARECYCLE_VIDEO_URL", "CARECYCLE_WEBHOOKS_URL", "CARECYCLE_PRACTICE_TIMEZONE",
      ], name)
    ])
    error_message = "visit_vendor_settings takes only the vendors' non-secret settings (the keys go into the visit-vendors secret)."
  }
}

variable "batch_timezone" {
  description = "Time zone of the batch flows' cron schedules (the practice's), e.g. America/New_York."
  type        = string
  default     = "UTC"
}

variable "batch_task" {
  description = "Size of the one-off batch task (`carecycle db upgrade`, `carecycle batch run NAME` by hand)."
  type = object({
    cpu    = number
    memory = number
  })
  default = { cpu = 512, memory = 1024 }
}

variable "otel_collector_image" {
  description = "Image of the metrics sidecar in each worker task (the AWS Distro for OpenTelemetry collector): it scrapes the worker's /metrics and writes them to CloudWatch (namespace carecycle) for autoscaling and alarms."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
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

variable "alarm_thresholds" {
  description = "Alarms: oldest waiting task per queue (schedule-to-start latency, seconds), workflows failed per 15 minutes, work items past their SLA."
  type = object({
    schedule_to_start_seconds = number
    workflow_failures         = number
    work_items_past_sla       = number
  })
  default = { schedule_to_start_seconds = 300, workflow_failures = 1, work_items_past_sla = 25 }
}

variable "alarm_topic_arn" {
  description = "SNS topic for alarms (null: no alarm actions)."
  type        = string
  default     = null
}
