# carecycle on AWS: the production deployment of the same processes the embedded stack runs on one machine.
# Providers are pinned exactly so that a plan made today is the plan made tomorrow.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.84.0"
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
