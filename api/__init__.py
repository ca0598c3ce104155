"""The integration API: FHIR R4 under ``/fhir`` for a practice's EHR and scheduling system.

``create_app(session_factory, intake, ...)`` builds the FastAPI app (``workers`` wires it for ``carecycle up``
and ``carecycle api``). Layout, after Medplum's server: ``routes`` (single-resource interactions), ``batch``
(transaction Bundles), ``metadata`` (the CapabilityStatement from the registry), ``operations/`` (one module per
``$operation`` with its test beside it), ``fhir/`` (parsing, references, the inbound mapping to intake commands,
the read views and the registry), ``clients`` (API clients, tokens, scopes, rate limit). Every write goes
through ``intake``; nothing here starts a workflow itself.
"""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
