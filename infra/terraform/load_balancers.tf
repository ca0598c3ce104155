# The web services behind one HTTPS load balancer (internal by default, reached over the practice's VPN; TLS 1.2+
# only, invalid headers dropped, access logs kept, a WAF in front), and HL7 v2 (MLLP) behind a network load
# balancer.

resource "aws_lb" "console" {
  #checkov:skip=CKV2_AWS_20:no HTTP listener exists at all; only 443 is opened
  name                       = "${local.name}-console"
  load_balancer_type         = "application"
  internal                   = !var.console_internet_facing
  subnets                    = var.console_internet_facing ? aws_subnet.public[*].id : aws_subnet.private_app[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

# One target group per web service: the console on 443, the codec server on 8443, the FHIR API on 8081 and (with
# prefect_mode = server) the Prefect UI and API on 4200. Each is checked on its readiness (/ready: the store
# and Temporal answer), so a task that lost them gets no traffic.
locals {
  web_listeners = merge(
    {
      console        = { listener_port = 443, health_path = "/ready" }
      "codec-server" = { listener_port = 8443, health_path = "/ready" }
      api            = { listener_port = 8081, health_path = "/ready" }
    },
    var.prefect_mode == "server" ? { "prefect-server" = { listener_port = 4200, health_path = "/api/health" } } : {},
  )
}

resource "aws_lb_target_group" "web" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the task stays inside the private subnets
  for_each = local.web_listeners

  name        = "${local.name}-${each.key}"
  port        = local.service_ports[each.key]
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.main.id

  deregistration_delay = 30

  health_check {
    path                = each.value.health_path
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

moved {
  from = aws_lb_target_group.console
  to   = aws_lb_target_group.web["console"]
}

resource "aws_lb_listener" "web" {
  for_each = local.web_listeners

  load_balancer_arn = aws_lb.console.arn
  port              = each.value.listener_port
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.console_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web[each.key].arn
  }
}

moved {
  from = aws_lb_listener.https
  to   = aws_lb_listener.web["console"]
}

resource "aws_wafv2_web_acl" "console" {
  name  = "${local.name}-console"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # FHIR transaction bundles are larger than the rule set's 8 KB body limit: counted, not blocked.
        rule_action_override {
          name = "SizeRestrictions_BODY"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-common"
      sampled_requests_enabled   = false
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-known-bad-inputs"
      sampled_requests_enabled   = false
    }
  }

  rule {
    name     = "aws-anonymous-ip"
    priority = 4

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-anonymous-ip"
      sampled_requests_enabled   = false
    }
  }

  rule {
    name     = "aws-ip-reputation"
    priority = 3

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-ip-reputation"
      sampled_requests_enabled   = false
    }
  }

  # Sampled requests would keep request bodies (PHI) in the WAF console: off.
  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-console"
    sampled_requests_enabled   = false
  }
}

resource "aws_wafv2_web_acl_association" "console" {
  resource_arn = aws_lb.console.arn
  web_acl_arn  = aws_wafv2_web_acl.console.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "console" {
  resource_arn            = aws_wafv2_web_acl.console.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
}

# --- HL7 v2 over MLLP ---------------------------------------------------------------------------------------

resource "aws_lb" "hl7" {
  name                             = "${local.name}-hl7"
  load_balancer_type               = "network"
  internal                         = !var.console_internet_facing
  subnets                          = var.console_internet_facing ? aws_subnet.public[*].id : aws_subnet.private_app[*].id
  security_groups                  = [aws_security_group.nlb.id]
  enable_deletion_protection       = true
  enable_cross_zone_load_balancing = true

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "nlb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "hl7" {
  name        = "${local.name}-hl7"
  port        = 2575
  protocol    = "TCP"
  target_type = "ip"
  vpc_id      = aws_vpc.main.id

  # An MLLP session can be long: give it time to finish before a task goes away.
  deregistration_delay = 120

  health_check {
    protocol            = "TCP"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "hl7" {
  load_balancer_arn = aws_lb.hl7.arn
  port              = 2575
  protocol          = var.hl7_listener_protocol
  ssl_policy        = var.hl7_listener_protocol == "TLS" ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null
  certificate_arn   = var.hl7_listener_protocol == "TLS" ? var.console_certificate_arn : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.hl7.arn
  }
}
