# The vendors' webhook receiver (`carecycle webhooks`: SMS status callbacks and replies, e-mail delivery records,
# video room events) on its own internet-facing load balancer: the vendors call it from the internet, while the
# web load balancer stays internal to the practice's VPN. Only POST /webhooks/* (and nothing else) is forwarded;
# every other path gets a 404 from the load balancer itself. The receiver checks each vendor's signature (the
# secrets come from the visit-vendors secret) and refuses, with 403, whatever does not check out.

locals {
  webhooks_host = coalesce(var.webhooks_hostname, aws_lb.webhooks.dns_name)
}

resource "aws_lb" "webhooks" {
  #checkov:skip=CKV2_AWS_20:no HTTP listener exists at all; only 443 is opened
  name                       = "${local.name}-webhooks"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.webhooks_alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "webhooks-alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "webhooks" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the task stays inside the private subnets
  name        = "${local.name}-webhooks"
  port        = local.service_ports["webhooks"]
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.main.id

  deregistration_delay = 30

  # The receiver's only probe: /health (it answers once its routes are up).
  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "webhooks" {
  load_balancer_arn = aws_lb.webhooks.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = coalesce(var.webhooks_certificate_arn, var.console_certificate_arn)

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener_rule" "webhooks" {
  listener_arn = aws_lb_listener.webhooks.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/webhooks/*"]
    }
  }

  condition {
    http_request_method {
      values = ["POST"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.webhooks.arn
  }
}

# Its own WAF: the web one's managed rule sets, but the anonymous-IP list's hosting-provider rule only counts (the
# vendors call from cloud providers' addresses; it would block them all). Sampled requests off (bodies are PHI).
resource "aws_wafv2_web_acl" "webhooks" {
  name  = "${local.name}-webhooks"
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
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "webhooks-aws-common"
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
      metric_name                = "webhooks-aws-known-bad-inputs"
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
      metric_name                = "webhooks-aws-ip-reputation"
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

        rule_action_override {
          name = "HostingProviderIPList"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "webhooks-aws-anonymous-ip"
      sampled_requests_enabled   = false
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-webhooks"
    sampled_requests_enabled   = false
  }
}

resource "aws_wafv2_web_acl_association" "webhooks" {
  resource_arn = aws_lb.webhooks.arn
  web_acl_arn  = aws_wafv2_web_acl.webhooks.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "webhooks" {
  resource_arn            = aws_wafv2_web_acl.webhooks.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "x-twilio-signature"
    }
  }
}

resource "aws_security_group" "webhooks_alb" {
  name        = "${local.name}-webhooks-alb"
  description = "Webhook load balancer: HTTPS in from the vendors, out only to the webhook receiver tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-webhooks-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "webhooks_https" {
  for_each = toset(var.webhooks_allowed_cidrs)

  security_group_id = aws_security_group.webhooks_alb.id
  description       = "HTTPS from the vendors"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "webhooks_alb_to_tasks" {
  security_group_id            = aws_security_group.webhooks_alb.id
  description                  = "To the webhook receiver tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.service_ports["webhooks"]
  to_port                      = local.service_ports["webhooks"]
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_webhooks_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "webhooks port from the webhook load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.service_ports["webhooks"]
  to_port                      = local.service_ports["webhooks"]
  referenced_security_group_id = aws_security_group.webhooks_alb.id
}

# Vendors retry for a while, then drop the event: an operator hears of a receiver that is down or failing.
resource "aws_cloudwatch_metric_alarm" "webhooks_unhealthy" {
  alarm_name          = "${local.name}-webhooks-unhealthy"
  alarm_description   = "No healthy webhook receiver task behind the webhook load balancer (vendors' receipts and room events are not arriving)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  dimensions          = { LoadBalancer = aws_lb.webhooks.arn_suffix, TargetGroup = aws_lb_target_group.webhooks.arn_suffix }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}

resource "aws_cloudwatch_metric_alarm" "webhooks_5xx" {
  alarm_name          = "${local.name}-webhooks-5xx"
  alarm_description   = "The webhook receiver answered 5xx to the vendors (they retry, then drop the event): its logs"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 5
  treat_missing_data  = "notBreaching"
  dimensions          = { LoadBalancer = aws_lb.webhooks.arn_suffix, TargetGroup = aws_lb_target_group.webhooks.arn_suffix }
  alarm_actions       = compact([var.alarm_topic_arn])
  ok_actions          = compact([var.alarm_topic_arn])
}
