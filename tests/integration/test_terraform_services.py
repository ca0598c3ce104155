"""The deployment runs the product: every container command is a `carecycle` command the CLI accepts, each task
queue's permissions follow what its activities touch, the Temporal Cloud namespace carries the search attributes
the workflows set, and scaling and alarms read metrics the code emits. checkov passes (slow: its own venv).

Like tests/integration/test_terraform.py, this parses the .tf files (providers cannot be downloaded here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.integration.test_terraform import TERRAFORM_DIR, Config

REPO = TERRAFORM_DIR.parents[1]


@pytest.fixture(scope="module")
def config() -> Config:
    return Config.from_dir(TERRAFORM_DIR)


# --- every container command parses -------------------------------------------------------------------------


def _literal(item: str, worker_queues: list[str]) -> list[str]:
    item = item.strip()
    if item.startswith('"') and item.endswith('"'):
        return [item[1:-1]]
    if item == "queue":  # `for queue, spec in var.worker_queues`
        return worker_queues
    raise AssertionError(f"a container command holds an expression this test cannot resolve: {item}")


def container_commands(config: Config) -> list[list[str]]:
    """Every `command = [...]` of every .tf file (health-check commands excepted), with the worker queue resolved."""
    queues = sorted(config.variables["worker_queues"]["default"])
    commands: list[list[str]] = []
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        for match in re.finditer(r"\bcommand\s*=\s*\[([^\]]*)\]", path.read_text()):
            items = [i for i in match.group(1).split(",") if i.strip()]
            if items and items[0].strip() == '"CMD"':
                continue
            variants: list[list[str]] = [[]]
            for item in items:
                variants = [[*v, value] for v in variants for value in _literal(item, queues)]
            commands += variants
    return commands


def test_the_commands_found_are_the_services(config: Config) -> None:
    found = {tuple(c) for c in container_commands(config)}
    queues = config.variables["worker_queues"]["default"]
    expected = {("worker", "--queue", q) for q in queues} | {
        ("console",),
        ("api",),
        ("codec-server",),
        ("hl7-listener",),
        ("webhooks",),
        ("batch", "serve"),
        ("batch", "server"),
        ("batch", "list"),
    }
    assert found == expected


def _parse(command: list[str]) -> None:
    from workers.cli import UsageError, build_parser

    try:
        parsed = build_parser().parse_args(command)
    except UsageError as exc:
        raise AssertionError(f"the deployment runs `carecycle {' '.join(command)}`: {exc}") from None
    assert callable(parsed.handler), command


def test_every_container_command_parses_with_the_cli_parser(config: Config) -> None:
    from workers.batch_plane import BATCH_PLANE

    commands = container_commands(config)
    # The one-off batch task's documented overrides (docs/deployment.md) parse too.
    commands += [["db", "upgrade"], *(["batch", "run", flow.name] for flow in BATCH_PLANE)]
    assert len(commands) >= 10
    for command in commands:
        _parse(command)


def test_the_command_check_catches_a_wrong_command() -> None:
    from workers.cli import UsageError, build_parser

    with pytest.raises(UsageError):
        build_parser().parse_args(["worker", "--queue"])
    with pytest.raises(UsageError):
        build_parser().parse_args(["consol"])


# --- each queue's permissions follow its activities ------------------------------------------------------------


def test_queue_needs_json_is_what_the_code_derives() -> None:
    from workers.registry import queue_needs_json

    assert (TERRAFORM_DIR / "queue_needs.json").read_text() == queue_needs_json(), (
        "regenerate: .venv/bin/python -m workers.registry > infra/terraform/queue_needs.json"
    )


def test_the_derivation_sees_what_a_builder_takes() -> None:
    from activities.contracts.queues import TaskQueue
    from workers import registry

    def takes_documents_and_a_browser(container: Any) -> list[Any]:
        return [container.documents, container.portal_sessions]

    saved = dict(registry.ACTIVITY_BUILDERS)
    try:
        registry.ACTIVITY_BUILDERS[TaskQueue.DOCUMENTS] = takes_documents_and_a_browser
        needs = registry.queue_needs()[TaskQueue.DOCUMENTS]
    finally:
        registry.ACTIVITY_BUILDERS.clear()
        registry.ACTIVITY_BUILDERS.update(saved)
    assert needs == {registry.Need.DOCUMENTS, registry.Need.BROWSER, registry.Need.STORE}
    # The real queues: revenue stores documents (the gap), only the portal queue drives a browser.
    real = registry.queue_needs()
    assert registry.Need.DOCUMENTS in real[TaskQueue.REVENUE]
    assert {q for q, n in real.items() if registry.Need.BROWSER in n} == {TaskQueue.PORTAL}


def effective_worker_permissions(config: Config, needs: dict[str, list[str]]) -> dict[str, dict[str, bool]]:
    """What the Terraform gives each worker queue, by evaluating its conditions against the needs file."""
    roles = config.locals["task_roles"]
    containers = config.locals["worker_containers"]
    # The conditions as written: each must be decided by the queue's needs, not by a hand-kept flag.
    assert 'documents = contains(local.queue_needs[queue], "documents")' in roles
    assert 'contains(local.queue_needs[queue], "portal_credentials") ? local.portal_secrets' in containers
    assert 'image = contains(local.queue_needs[queue], "browser") ? local.browser_image : local.image' in containers
    assert 'contains(local.queue_needs[queue], "messaging_vendors") ? local.vendor_secrets' in containers
    task_policy = json.dumps(config.data[("aws_iam_policy_document", "task")])
    assert "each.value.documents ? [1] : []" in task_policy and "aws_s3_bucket.documents.arn" in task_policy
    return {
        queue: {
            "documents": "documents" in queue_needs,
            "portal_secret": "portal_credentials" in queue_needs,
            "browser_image": "browser" in queue_needs,
            "vendor_keys": "messaging_vendors" in queue_needs,
        }
        for queue, queue_needs in needs.items()
    }


def test_each_worker_queue_gets_exactly_what_its_activities_touch(config: Config) -> None:
    from workers.registry import Need, queue_needs

    needs_file = json.loads((TERRAFORM_DIR / "queue_needs.json").read_text())
    granted = effective_worker_permissions(config, needs_file)
    derived = queue_needs()
    assert set(granted) == {q.value for q in derived} == set(config.variables["worker_queues"]["default"])
    for queue, needs in derived.items():
        assert granted[queue.value] == {
            "documents": Need.DOCUMENTS in needs,
            "portal_secret": Need.PORTAL_CREDENTIALS in needs,
            "browser_image": Need.BROWSER in needs,
            "vendor_keys": Need.MESSAGING_VENDORS in needs,
        }, queue


# --- Temporal Cloud, the console, the batch plane ------------------------------------------------------------------


def test_the_cloud_namespace_has_the_workflows_search_attributes_and_the_codec_server(config: Config) -> None:
    from temporalio.common import SearchAttributeIndexedValueType

    from flows.search_attributes import ALL_KEYS

    types = {
        SearchAttributeIndexedValueType.KEYWORD: "keyword",
        SearchAttributeIndexedValueType.BOOL: "bool",
        SearchAttributeIndexedValueType.TEXT: "text",
        SearchAttributeIndexedValueType.INT: "int",
        SearchAttributeIndexedValueType.DOUBLE: "double",
        SearchAttributeIndexedValueType.DATETIME: "datetime",
        SearchAttributeIndexedValueType.KEYWORD_LIST: "keyword_list",
    }
    assert config.locals["search_attributes"] == {key.name: types[key.indexed_value_type] for key in ALL_KEYS}
    namespace = config.resources[("temporalcloud_namespace", "main")]
    assert namespace["retention_days"] == "${var.temporal_cloud.retention_days}"
    endpoint = namespace["codec_server"]["endpoint"]
    assert endpoint.startswith("https://") and ":8443" in endpoint
    attribute = config.resources[("temporalcloud_namespace_search_attribute", "main")]
    assert "local.search_attributes" in attribute["for_each"]
    # The tasks connect to the managed namespace's endpoint.
    assert "temporalcloud_namespace.main[0].endpoints.grpc_address" in config.locals["temporal_address"]


def _env_names(config: Config, value: Any) -> set[str]:
    return set(re.findall(r"\b((?:CARECYCLE|TEMPORAL|PREFECT)_[A-Z0-9_]+)\b", config.expand(value)))


def test_the_console_runs_behind_tls_with_a_shared_session_secret(config: Config) -> None:
    console = config.locals["service_specs"]["console"]
    assert '{name = "CARECYCLE_CONSOLE_SECURE_COOKIES", value = "1"}' in console["environment"]
    secrets = config.expand(console["secrets"])
    assert "CARECYCLE_CONSOLE_SESSION_SECRET" in secrets
    assert "aws_secretsmanager_secret.console_session_secret" in secrets
    assert "CARECYCLE_CONSOLE_SESSION_SECRET" not in config.expand(console["environment"])


def test_the_codec_server_gets_only_its_keys_and_token(config: Config) -> None:
    codec = config.locals["service_specs"]["codec-server"]
    assert _env_names(config, codec["secrets"]) == {"CARECYCLE_CODEC_KEYS", "CARECYCLE_CODEC_SERVER_TOKEN"}


def test_the_batch_plane_is_a_service_with_the_archive(config: Config) -> None:
    environment = config.expand(config.locals["batch_environment"])
    assert "CARECYCLE_ARCHIVE_URL" in environment and "aws_s3_bucket.audit_exports.id" in environment
    assert "PREFECT_API_URL" in environment
    roles = config.locals["task_roles"]
    assert '"batch-serve" = {documents = true, archive = true' in roles
    archive_statements = json.dumps(config.data[("aws_iam_policy_document", "task")])
    assert "s3:PutObject" in archive_statements and "aws_s3_bucket.audit_exports.arn}/archive/*" in archive_statements


def test_the_webhook_receiver_is_public_on_its_own_path_with_the_vendor_secrets(config: Config) -> None:
    webhooks = config.locals["service_specs"]["webhooks"]
    assert _env_names(config, webhooks["secrets"]) >= {
        "CARECYCLE_SMS_AUTH_TOKEN",
        "CARECYCLE_WEBHOOK_SECRET",
        "CARECYCLE_DATABASE_PASSWORD",
        "CARECYCLE_CODEC_KEYS",
    }
    environment = config.expand(webhooks["environment"])
    assert "CARECYCLE_WEBHOOK_SECRET" not in environment and "CARECYCLE_SMS_AUTH_TOKEN" not in environment
    assert '{name = "CARECYCLE_WEBHOOKS_URL", value = "https://${local.webhooks_host}"}' in webhooks["environment"]
    assert config.locals["service_ports"]["webhooks"] == 8095
    balancer = config.resources[("aws_lb", "webhooks")]
    assert balancer["internal"] is False
    listener = config.resources[("aws_lb_listener", "webhooks")]
    assert listener["protocol"] == "HTTPS" and listener["port"] == 443
    assert listener["default_action"][0]["type"] == "fixed-response"
    rule = json.dumps(config.resources[("aws_lb_listener_rule", "webhooks")])
    assert '"/webhooks/*"' in rule and "aws_lb_target_group.webhooks.arn" in rule
    group = config.resources[("aws_lb_target_group", "webhooks")]
    assert group["health_check"][0]["path"] == "/health"
    assert ("aws_wafv2_web_acl_association", "webhooks") in config.resources
    assert "webhooks = {documents = false, archive = false, metrics = false}" in config.locals["task_roles"]


def test_web_services_are_checked_on_readiness(config: Config) -> None:
    listeners = config.locals["web_listeners"]
    for service, port in (("console", 443), ('"codec-server"', 8443), ("api", 8081)):
        assert f'{service} = {{listener_port = {port}, health_path = "/ready"}}' in listeners, service
    group = config.resources[("aws_lb_target_group", "web")]
    assert group["health_check"][0]["path"] == "${each.value.health_path}"


# --- scaling and alarms read what the code emits -------------------------------------------------------------------


def test_workers_scale_on_their_backlog_and_alarms_read_emitted_metrics(config: Config) -> None:
    from workers.observability.metrics import GAUGES

    policy = json.dumps(config.resources[("aws_appautoscaling_policy", "worker_backlog")])
    assert "carecycle_task_queue_backlog" in policy and "RunningTaskCount" in policy
    alarms = json.dumps([body for _, body in config.of_type("aws_cloudwatch_metric_alarm")])
    used = set(re.findall(r"carecycle_[a-z_]+", policy + alarms))
    assert used and used <= set(GAUGES), used - set(GAUGES)
    assert "temporal_workflow_failed" in alarms  # an SDK metric (temporalio's core emits it)
    shipped = config.locals["collector_config"]
    for metric in used | {"temporal_workflow_failed"}:
        assert f"^{metric}$" in shipped, f"{metric} is not shipped to CloudWatch by the metrics sidecar"
    for name in ("schedule_to_start", "workflow_failures", "work_items_past_sla"):
        assert ("aws_cloudwatch_metric_alarm", name) in config.resources, name


# --- checkov ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_checkov_passes() -> None:
    """checkov in its own venv under the cache (it pins its own boto3): scripts/checkov installs it once."""
    if shutil.which("python3.11") is None and shutil.which("uv") is None:
        pytest.skip("neither python3.11 nor uv is available to make checkov's venv")
    result = subprocess.run(
        [str(REPO / "scripts" / "checkov"), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and summary["parsing_errors"] == 0, failed
    assert summary["passed"] > 300
