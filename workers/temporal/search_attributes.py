"""Registering the custom search attributes (flows.search_attributes.ALL_KEYS) on a server.

The embedded dev server gets them as ``--search-attribute`` flags; any other server (the time-skipping
test server, a self-hosted cluster) through the operator service, idempotently.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from flows.search_attributes import ALL_KEYS

# The dev server's --search-attribute type names.
_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def dev_server_flags() -> list[str]:
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


async def ensure_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Add whichever custom attributes the namespace lacks; return the names added.

    The time-skipping test server cannot list attributes, so each is added on its own and "already
    exists" counts as done.
    """
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        known = set(listed.custom_attributes) | set(listed.system_attributes)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    added: list[str] = []
    for key in ALL_KEYS:
        if key.name in known:
            continue
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={key.name: IndexedValueType.ValueType(int(key.indexed_value_type))},
                )
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS and "already exists" not in exc.message:
                raise
            continue
        added.append(key.name)
    return added
