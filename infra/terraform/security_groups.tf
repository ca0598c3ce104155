# Least privilege between the tiers: each group names the only peers and ports it needs.
# Rules are separate resources so that no group carries an implicit allow-all egress.

resource "aws_security_group" "alb" {
  name        = "${local.name}-console-alb"
  description = "Web load balancer: HTTPS in from the allowed ranges, out only to the web services' tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-console-alb" }
}

# Each listener (443 console, 8443 codec server, 8081 API, 4200 Prefect) from each allowed range.
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = { for pair in setproduct(var.console_allowed_cidrs, keys(local.web_listeners)) : "${pair[1]}:${pair[0]}" => pair }

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS (${each.value[1]}) from an allowed range"
  ip_protocol       = "tcp"
  from_port         = local.web_listeners[each.value[1]].listener_port
  to_port           = local.web_listeners[each.value[1]].listener_port
  cidr_ipv4         = each.value[0]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_services" {
  for_each = local.web_listeners

  security_group_id            = aws_security_group.alb.id
  description                  = "To the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.service_ports[each.key]
  to_port                      = local.service_ports[each.key]
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "nlb" {
  name        = "${local.name}-hl7-nlb"
  description = "HL7 load balancer: MLLP in from the allowed ranges, out only to the HL7 listener tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-hl7-nlb" }
}

resource "aws_vpc_security_group_ingress_rule" "nlb_mllp" {
  for_each = toset(var.console_allowed_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "MLLP from an allowed range"
  ip_protocol       = "tcp"
  from_port         = 2575
  to_port           = 2575
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_hl7" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "To the HL7 listener tasks"
  ip_protocol                  = "tcp"
  from_port                    = 2575
  to_port                      = 2575
  referenced_security_group_id = aws_security_group.tasks.id
}

# Every carecycle task shares one group: none accepts traffic except its service port from its load balancer
# (and the Prefect API from the other tasks), and all leave only for the database, Temporal, HTTPS and Prefect.
resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "carecycle Fargate tasks: in only from their load balancers; out to the database, Temporal and HTTPS"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-tasks" }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  for_each = local.web_listeners

  security_group_id            = aws_security_group.tasks.id
  description                  = "${each.key} port from the web load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.service_ports[each.key]
  to_port                      = local.service_ports[each.key]
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_nlb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "MLLP from the HL7 load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 2575
  to_port                      = 2575
  referenced_security_group_id = aws_security_group.nlb.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_prefect_api" {
  count = var.prefect_mode == "server" ? 1 : 0

  security_group_id            = aws_security_group.tasks.id
  description                  = "Prefect API from the batch tasks"
  ip_protocol                  = "tcp"
  from_port                    = 4200
  to_port                      = 4200
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_prefect_api" {
  count = var.prefect_mode == "server" ? 1 : 0

  security_group_id            = aws_security_group.tasks.id
  description                  = "Prefect API (the prefect-server service)"
  ip_protocol                  = "tcp"
  from_port                    = 4200
  to_port                      = 4200
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = toset(var.egress_https_cidrs)

  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS: clearinghouse, payer portals, Temporal Cloud API, AWS endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# Temporal Cloud's gRPC endpoint listens on 7233; a self-hosted frontend on temporal_port in its own range.
resource "aws_vpc_security_group_egress_rule" "tasks_temporal" {
  for_each = toset(length(var.temporal_self_hosted_cidrs) > 0 ? var.temporal_self_hosted_cidrs : var.egress_https_cidrs)

  security_group_id = aws_security_group.tasks.id
  description       = "Temporal frontend (gRPC)"
  ip_protocol       = "tcp"
  from_port         = var.temporal_port
  to_port           = var.temporal_port
  cidr_ipv4         = each.value
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "RDS PostgreSQL: in only from the carecycle tasks; no egress"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-database" }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the carecycle tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "vpc_endpoints" {
  name        = "${local.name}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS in from the carecycle tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-vpc-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_tasks" {
  security_group_id            = aws_security_group.vpc_endpoints.id
  description                  = "HTTPS from the carecycle tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.tasks.id
}

moved {
  from = aws_vpc_security_group_ingress_rule.tasks_from_alb
  to   = aws_vpc_security_group_ingress_rule.tasks_from_alb["console"]
}

moved {
  from = aws_vpc_security_group_egress_rule.alb_to_console
  to   = aws_vpc_security_group_egress_rule.alb_to_services["console"]
}
