"""The AWS deployment (infra/terraform) holds its security properties.

Providers cannot be downloaded here, so `terraform validate` cannot run; instead every .tf file is parsed
with python-hcl2 and the properties that matter are asserted on the parsed blocks. Each check is a function
returning the violations it finds, and each is also shown to catch a broken snippet, so none passes vacuously.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"
WORKER_QUEUES = {"revenue", "portal", "documents"}
SECRET_LOOKING = re.compile(r"KEY(S)?$|PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY|CODEC_KEYS|TLS_(CERT|KEY)")
# Settings whose names look secret but whose values are not: a KMS key *id* is an ARN, not key material.
NOT_SECRET = {"CARECYCLE_S3_KMS_KEY_ID"}


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k not in ("__is_block__",)}
    return value


class Config:
    """Every block of a Terraform directory, by kind: resources[(type, name)], data, variables, locals, outputs."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.files = {name: _unquote(hcl2.loads(text)) for name, text in texts.items()}
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.data: dict[tuple[str, str], dict[str, Any]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        self.terraform: list[dict[str, Any]] = []
        for parsed in self.files.values():
            for kind, target in (("resource", self.resources), ("data", self.data)):
                for block in parsed.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            target[(rtype, name)] = body
            for block in parsed.get("variable", []):
                self.variables.update(block)
            for block in parsed.get("output", []):
                self.outputs.update(block)
            for block in parsed.get("locals", []):
                self.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
            self.terraform.extend(parsed.get("terraform", []))

    @classmethod
    def from_dir(cls, directory: Path) -> Config:
        return cls({path.name: path.read_text() for path in sorted(directory.rglob("*.tf"))})

    def of_type(self, rtype: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for (kind, name), body in self.resources.items():
            if kind == rtype:
                yield name, body

    def expand(self, value: Any, depth: int = 6) -> str:
        """The value as text with every `local.NAME` it mentions spliced in (a few levels deep)."""
        text = json.dumps(value)
        for _ in range(depth):
            names = set(re.findall(r"local\.([A-Za-z_][A-Za-z0-9_]*)", text))
            known = [n for n in names if n in self.locals]
            if not known:
                break
            for name in known:
                text = re.sub(rf"local\.{name}\b", lambda _m, n=name: json.dumps(self.locals[n]), text)
        return text


def _first(blocks: Any) -> dict[str, Any]:
    return blocks[0] if isinstance(blocks, list) and blocks else {}


# --- the checks ------------------------------------------------------------------------------------------


def buckets_without(config: Config, rtype: str, accept: Any = None) -> list[str]:
    """Buckets not covered by a resource of ``rtype`` (for_each or bucket reference) that ``accept`` approves."""
    missing = []
    for bucket, _ in config.of_type("aws_s3_bucket"):
        covered = False
        for _name, body in config.of_type(rtype):
            target = config.expand([body.get("for_each"), body.get("bucket")])
            if re.search(rf"aws_s3_bucket\.{bucket}\b", target) and (accept is None or accept(bucket, body)):
                covered = True
        if not covered:
            missing.append(bucket)
    return missing


def public_access_fully_blocked(_bucket: str, body: dict[str, Any]) -> bool:
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    return all(body.get(flag) is True for flag in flags)


def encryption_violations(config: Config, kms_buckets: set[str]) -> list[str]:
    def encrypted(bucket: str, body: dict[str, Any]) -> bool:
        default = _first(_first(body.get("rule")).get("apply_server_side_encryption_by_default"))
        if bucket in kms_buckets:
            return default.get("sse_algorithm") == "aws:kms" and "aws_kms_key." in str(default.get("kms_master_key_id"))
        return default.get("sse_algorithm") in ("aws:kms", "AES256")

    return buckets_without(config, "aws_s3_bucket_server_side_encryption_configuration", encrypted)


def rds_violations(config: Config) -> list[str]:
    problems = []
    instances = list(config.of_type("aws_db_instance"))
    if not instances:
        problems.append("no aws_db_instance")
    for name, body in instances:
        if body.get("storage_encrypted") is not True:
            problems.append(f"{name}: storage_encrypted is not true")
        if "aws_kms_key." not in str(body.get("kms_key_id")):
            problems.append(f"{name}: not encrypted with a customer-managed KMS key")
        if body.get("publicly_accessible") is not False:
            problems.append(f"{name}: publicly_accessible is not false")
        if not (body.get("manage_master_user_password") is True or body.get("iam_database_authentication_enabled")):
            problems.append(f"{name}: password neither managed in Secrets Manager nor replaced by IAM auth")
        if "password" in body:
            problems.append(f"{name}: a literal password would land in state")
        if body.get("skip_final_snapshot") is not False:
            problems.append(f"{name}: skip_final_snapshot is not false")
        if "backup_retention_period" not in body:
            problems.append(f"{name}: no backup_retention_period")
    return problems


def log_group_violations(config: Config) -> list[str]:
    problems = []
    for name, body in config.of_type("aws_cloudwatch_log_group"):
        if "retention_in_days" not in body:
            problems.append(f"{name}: no retention")
        if "aws_kms_key." not in str(body.get("kms_key_id")):
            problems.append(f"{name}: not encrypted with a KMS key")
    return problems


def task_definition_secret_violations(config: Config) -> list[str]:
    """Every task gets the codec keys (and anything secret) from Secrets Manager, never as plain environment."""
    problems = []
    definitions = list(config.of_type("aws_ecs_task_definition"))
    if not definitions:
        problems.append("no aws_ecs_task_definition")
    for name, body in definitions:
        containers = config.expand(body.get("container_definitions"))
        secrets = re.search(r"secrets\s*=\s*(.*?)(?:, [A-Za-z]+\s*=|$)", containers)
        # `{name = "X", valueFrom = aws_...}` inside an expression, or {"name": "X", "valueFrom": "${aws_...}"}.
        from_secret = (
            r'CARECYCLE_CODEC_KEYS\\?"?,\s*\\?"?valueFrom\\?"?\s*[=:]\s*\\?"?(\$\{)?aws_secretsmanager_secret\.'
        )
        if not re.search(from_secret, containers):
            problems.append(f"{name}: CARECYCLE_CODEC_KEYS does not come from a Secrets Manager secret")
        if secrets is None:
            problems.append(f"{name}: no secrets list")
        # Plain environment entries: `{name = "X", value = ...}` (expressions) or {"name": "X", "value": ...}.
        plain = re.findall(r'name\\?"?\s*[=:]\s*\\?"([A-Z0-9_]+)\\?"\s*,\s*\\?"?value\\?"?\s*[=:]', containers)
        for variable in plain:
            if SECRET_LOOKING.search(variable) and variable not in NOT_SECRET:
                problems.append(f"{name}: {variable} is passed as a plain environment variable")
    return problems


def variable_violations(config: Config) -> list[str]:
    problems = []
    for name, body in config.variables.items():
        if not str(body.get("description") or "").strip():
            problems.append(f"variable {name}: no description")
        if "type" not in body:
            problems.append(f"variable {name}: no type")
    return problems


def open_ingress_violations(config: Config) -> list[str]:
    problems = []
    for name, body in config.of_type("aws_vpc_security_group_ingress_rule"):
        if body.get("cidr_ipv4") in ("0.0.0.0/0",) or body.get("cidr_ipv6") in ("::/0",):
            problems.append(f"{name}: ingress open to the internet")
    for name, body in config.of_type("aws_security_group"):
        if "ingress" in body or "egress" in body:
            problems.append(f"{name}: inline rules (use the separate rule resources)")
    return problems


def iam_wildcard_violations(config: Config) -> list[str]:
    """No IAM policy allows every action; wildcard resources only for actions that have no resource scoping."""
    unscoped = {
        "ecr:GetAuthorizationToken",
        "logs:DescribeLogGroups",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
    problems = []
    for (rtype, name), body in config.data.items():
        if rtype != "aws_iam_policy_document" or name.startswith("kms_"):
            continue  # key policies are resource policies: "*" there means "this key"
        for statement in body.get("statement", []):
            if statement.get("effect") == "Deny":
                continue
            actions = set(statement.get("actions", []))
            if any(a == "*" or a.endswith(":*") for a in actions):
                problems.append(f"{name}: allows a wildcard action {sorted(actions)}")
            resources = statement.get("resources", [])
            if isinstance(resources, list) and "*" in resources and not actions <= unscoped:
                problems.append(f"{name}: resource * for {sorted(actions - unscoped)}")
    return problems


# --- the deployment as written ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> Config:
    assert TERRAFORM_DIR.is_dir(), "infra/terraform is missing"
    return Config.from_dir(TERRAFORM_DIR)


def test_every_file_parses_and_the_parts_are_there(config: Config) -> None:
    assert len(config.files) >= 8
    kinds = {rtype for rtype, _ in config.resources}
    for needed in (
        "aws_vpc",
        "aws_subnet",
        "aws_db_instance",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_ecs_cluster",
        "aws_ecs_service",
        "aws_ecs_task_definition",
        "aws_appautoscaling_target",
        "aws_cloudwatch_log_group",
        "aws_security_group",
        "aws_iam_role",
    ):
        assert needed in kinds, needed


def test_providers_are_pinned_exactly(config: Config) -> None:
    providers = {}
    for block in config.terraform:
        for required in block.get("required_providers", []):
            providers.update(required)
    assert providers, "no required_providers"
    for name, spec in providers.items():
        assert re.fullmatch(r"=\s*\d+\.\d+\.\d+", spec["version"]), f"{name} is not pinned: {spec['version']}"
    assert any("required_version" in block for block in config.terraform)


def test_buckets_are_private_versioned_and_encrypted(config: Config) -> None:
    assert buckets_without(config, "aws_s3_bucket_public_access_block", public_access_fully_blocked) == []
    assert buckets_without(config, "aws_s3_bucket_versioning") == []
    assert buckets_without(config, "aws_s3_bucket_policy") == []
    assert encryption_violations(config, kms_buckets={"documents", "audit_exports"}) == []
    assert buckets_without(config, "aws_s3_bucket_lifecycle_configuration") == []


def test_audit_exports_are_write_once(config: Config) -> None:
    bucket = config.resources[("aws_s3_bucket", "audit_exports")]
    assert bucket["object_lock_enabled"] is True
    lock = config.resources[("aws_s3_bucket_object_lock_configuration", "audit_exports")]
    retention = _first(_first(lock["rule"])["default_retention"])
    assert retention["mode"] == "COMPLIANCE"
    assert config.variables["audit_export_retention_days"]["default"] >= 365


def test_database_is_encrypted_private_and_backed_up(config: Config) -> None:
    assert rds_violations(config) == []
    db = config.resources[("aws_db_instance", "main")]
    assert db["multi_az"] == "${var.db_multi_az}"
    assert config.variables["db_backup_retention_days"]["default"] >= 7
    subnets = config.expand(config.resources[("aws_db_subnet_group", "main")]["subnet_ids"])
    assert "private_data" in subnets


def test_every_log_group_has_retention_and_kms(config: Config) -> None:
    assert log_group_violations(config) == []
    assert config.variables["log_retention_days"]["default"] >= 365


def test_kms_keys_rotate(config: Config) -> None:
    keys = list(config.of_type("aws_kms_key"))
    assert len(keys) >= 2
    for name, body in keys:
        assert body.get("enable_key_rotation") is True, name
        assert "policy" in body, name


def test_task_definitions_take_secrets_from_secrets_manager(config: Config) -> None:
    assert task_definition_secret_violations(config) == []
    common = config.expand(config.locals["common_secrets"])
    assert "CARECYCLE_DATABASE_PASSWORD" in common and "master_user_secret" in common
    assert "TEMPORAL_API_KEY" in common
    # Only the queues whose activities take the portal credentials get them (tests/integration/
    # test_terraform_services.py checks queue_needs.json against the code).
    workers = config.locals["worker_containers"]
    assert 'contains(local.queue_needs[queue], "portal_credentials") ? local.portal_secrets' in workers


def test_each_worker_queue_has_a_service_with_its_own_scaling(config: Config) -> None:
    queues = config.variables["worker_queues"]["default"]
    assert set(queues) >= WORKER_QUEUES
    for queue, spec in queues.items():
        assert spec["min_count"] <= spec["desired_count"] <= spec["max_count"], queue
    scaled = ("aws_ecs_service", "aws_ecs_task_definition", "aws_appautoscaling_target", "aws_appautoscaling_policy")
    for rtype in scaled:
        bodies = [body for name, body in config.of_type(rtype) if name.startswith("worker")]
        assert any(body.get("for_each") == "${var.worker_queues}" for body in bodies), rtype
    for name, body in config.of_type("aws_ecs_service"):
        network = _first(body["network_configuration"])
        assert network["assign_public_ip"] is False, name
        assert "private_app" in network["subnets"], name


def test_the_worker_services_are_the_task_queues(config: Config) -> None:
    from activities.contracts.queues import ALL_TASK_QUEUES

    assert set(config.variables["worker_queues"]["default"]) == {q.value for q in ALL_TASK_QUEUES}


def test_the_batch_flows_are_scheduled_by_the_batch_plane_not_by_aws(config: Config) -> None:
    """Schedules live in one place (workers.batch_plane, served by `carecycle batch serve`): none in AWS."""
    assert list(config.of_type("aws_scheduler_schedule")) == []
    assert "batch_schedules" not in config.variables
    assert config.locals["service_specs"]["batch-serve"]["command"] == ["batch", "serve"]


def test_security_groups_least_privilege(config: Config) -> None:
    assert open_ingress_violations(config) == []
    ingress = config.of_type("aws_vpc_security_group_ingress_rule")
    database_ingress = [body for _, body in ingress if "database" in str(body)]
    assert database_ingress and all("referenced_security_group_id" in body for body in database_ingress)
    assert "default" not in config.variables["console_allowed_cidrs"]  # an operator must choose who reaches it


def test_iam_policies_least_privilege(config: Config) -> None:
    assert iam_wildcard_violations(config) == []


def test_temporal_is_configurable_for_cloud_or_self_hosted(config: Config) -> None:
    for name in ("temporal_address", "temporal_namespace", "temporal_api_key_secret_arn", "temporal_auth"):
        assert name in config.variables, name
    environment = json.dumps(config.locals["base_environment"])
    assert "TEMPORAL_ADDRESS" in environment and "TEMPORAL_NAMESPACE" in environment


# Variables the tasks get that workers/settings.py does not read: each is read elsewhere or awaited.
READ_ELSEWHERE = {  # Prefect reads its own settings
    "PREFECT_HOME",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_UI_API_URL",
}
CONTAINER_LOCALS = (
    "base_environment",
    "batch_environment",
    "service_specs",
    "worker_containers",
    "batch_container",
    "common_secrets",
    "portal_secrets",
    "console_secrets",
    "codec_server_secrets",
    "prefect_secrets",
    "database_secrets",
    "vendor_secrets",
    "metrics_sidecar",
)


def test_the_tasks_are_configured_through_the_settings_object(config: Config) -> None:
    settings_source = (Path(__file__).resolve().parents[2] / "workers" / "settings.py").read_text()
    read = set(re.findall(r'"((?:CARECYCLE|TEMPORAL)_[A-Z0-9_]+)"', settings_source))
    injected = set()
    for local in CONTAINER_LOCALS:
        injected |= set(
            re.findall(r"\b((?:CARECYCLE|TEMPORAL|PREFECT)_[A-Z0-9_]+)\b", config.expand(config.locals[local]))
        )
    assert {"CARECYCLE_PORTAL_CREDENTIALS", "CARECYCLE_ARCHIVE_URL", "CARECYCLE_CONSOLE_SESSION_SECRET"} <= injected
    assert injected - read - READ_ELSEWHERE == set()
    # The vendors' settings come from a variable: each name it may carry is one the settings read.
    allowed = re.findall(r"\b(CARECYCLE_[A-Z0-9_]+)\b", json.dumps(config.variables["visit_vendor_settings"]))
    assert allowed and set(allowed) <= read


def test_the_database_password_is_injected_apart_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    from workers.settings import load_settings

    monkeypatch.setenv(
        "CARECYCLE_DATABASE_URL", "postgresql+psycopg://carecycle@db.internal:5432/carecycle?sslmode=require"
    )
    monkeypatch.setenv("CARECYCLE_DATABASE_PASSWORD", "s3cret/with:odd@chars")
    url = make_url(load_settings().database_url)
    assert (url.username, url.password, url.host, url.query["sslmode"]) == (
        "carecycle",
        "s3cret/with:odd@chars",
        "db.internal",
        "require",
    )


def test_variables_and_outputs_are_documented(config: Config) -> None:
    assert variable_violations(config) == []
    for name, body in config.outputs.items():
        assert str(body.get("description") or "").strip(), f"output {name}: no description"


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the checks catch what they are for --------------------------------------------------------------------

BROKEN = """
variable "loose" {}
resource "aws_s3_bucket" "leaky" {
  bucket = "x"
}
resource "aws_s3_bucket_public_access_block" "leaky" {
  bucket              = aws_s3_bucket.leaky.id
  block_public_acls   = true
  block_public_policy = false
}
resource "aws_s3_bucket_server_side_encryption_configuration" "leaky" {
  bucket = aws_s3_bucket.leaky.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
resource "aws_db_instance" "db" {
  storage_encrypted   = false
  publicly_accessible = true
  password            = "hunter2"
}
resource "aws_cloudwatch_log_group" "bare" {
  name = "x"
}
resource "aws_ecs_task_definition" "t" {
  container_definitions = jsonencode([{
    name        = "w"
    environment = [{ name = "CARECYCLE_CODEC_KEYS", value = "k1:abc" }]
  }])
}
resource "aws_vpc_security_group_ingress_rule" "open" {
  cidr_ipv4 = "0.0.0.0/0"
}
data "aws_iam_policy_document" "greedy" {
  statement {
    actions   = ["s3:*"]
    resources = ["*"]
  }
}
"""


def test_the_checks_catch_a_broken_deployment() -> None:
    broken = Config({"broken.tf": BROKEN})
    assert buckets_without(broken, "aws_s3_bucket_public_access_block", public_access_fully_blocked) == ["leaky"]
    assert encryption_violations(broken, kms_buckets={"leaky"}) == ["leaky"]
    assert buckets_without(broken, "aws_s3_bucket_versioning") == ["leaky"]
    assert len(rds_violations(broken)) >= 4
    assert log_group_violations(broken) == ["bare: no retention", "bare: not encrypted with a KMS key"]
    problems = task_definition_secret_violations(broken)
    assert any("plain environment" in p for p in problems)
    assert any("does not come from a Secrets Manager secret" in p for p in problems)
    assert variable_violations(broken) == ["variable loose: no description", "variable loose: no type"]
    assert open_ingress_violations(broken) == ["open: ingress open to the internet"]
    assert len(iam_wildcard_violations(broken)) == 2
