# carecycle on AWS: the production deployment of the same processes the embedded stack runs on one machine.
# Providers are pinned exactly so that a plan made today is the plan made tomorrow. temporalcloud manages the
# Temporal Cloud namespace, its search attributes, retention and codec server (temporal_cloud.tf); it
# authenticates with TEMPORAL_CLOUD_API_KEY from the environment of whoever runs terraform.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.84.0"
    }
    temporalcloud = {
      source  = "temporalio/temporalcloud"
      version = "= 1.5.0"
    }
  }

  # State holds resource ids and ARNs (never secret values: no secret version is managed here). Keep it in
  # an encrypted, versioned bucket: `terraform init -backend-config=backend.hcl` (see docs/deployment.md).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

provider "temporalcloud" {}
