# Least privilege between the tiers: each group names the only peers and ports it needs.
# Rules are separate resources so that no group carries an implicit allow-all egress.

resource "aws_security_group" "alb" {
  name        = "${local.name}-console-alb"
  description = "Console load balancer: HTTPS in from the allowed ranges, out only to the console tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-console-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.console_allowed_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from an allowed range"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_console" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the console tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.console.port
  to_port                      = var.console.port
  referenced_security_group_id = aws_security_group.tasks.id
}

# Every carecycle task (workers, console, batch) shares one group: none accepts traffic except the console
# port from the load balancer, and all leave only for the database, Temporal and HTTPS.
resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "carecycle Fargate tasks: in only from the console load balancer; out to the database, Temporal and HTTPS"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-tasks" }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Console port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.console.port
  to_port                      = var.console.port
  referenced_security_group_id = aws_security_group.alb.id
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
