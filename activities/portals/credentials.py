"""Portal credentials from a secrets source: a JSON file and/or environment-style variables.

File: ``{"SBXCC": {"username": "...", "password": "...", "totp_secret": "...", "url": "..."}}``; the same JSON
may come as text (``CARECYCLE_PORTAL_CREDENTIALS``, injected from a secret in production), which wins over the file.
Variables: ``CARECYCLE_PORTAL_<PAYER>_USERNAME``, ``_PASSWORD``, ``_TOTP_SECRET``, ``_URL`` (win over the file).
Nothing here logs or prints a value; ``PortalAccount`` hides the password and secret from its repr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from activities.portals.base import PortalAccount
from activities.portals.errors import PortalCredentialsMissing

_PREFIX = "CARECYCLE_PORTAL_"
_FIELDS = {"USERNAME": "username", "PASSWORD": "password", "TOTP_SECRET": "totp_secret", "URL": "url"}


class PortalCredentials:
    def __init__(self, entries: Mapping[str, Mapping[str, str]], default_url: str | None = None) -> None:
        self._entries = {k.upper(): dict(v) for k, v in entries.items()}
        self.default_url = default_url

    @classmethod
    def from_sources(
        cls,
        environ: Mapping[str, str],
        secrets_file: str | Path | None = None,
        default_url: str | None = None,
        *,
        secrets_json: str | None = None,
    ) -> PortalCredentials:
        entries: dict[str, dict[str, str]] = {}
        if secrets_file:
            path = Path(secrets_file)
            try:
                text = path.read_text()
            except OSError:
                raise PortalCredentialsMissing(f"the portal secrets file {path} cannot be read as JSON") from None
            _merge_json(entries, text, f"the portal secrets file {path}")
        if secrets_json:
            _merge_json(entries, secrets_json, "CARECYCLE_PORTAL_CREDENTIALS")
        for name, value in environ.items():
            if not name.startswith(_PREFIX):
                continue
            rest = name[len(_PREFIX) :]
            for suffix, field in _FIELDS.items():
                if rest.endswith("_" + suffix) and len(rest) > len(suffix) + 1:
                    entries.setdefault(rest[: -len(suffix) - 1], {})[field] = value
                    break
        return cls(entries, default_url)

    def payers(self) -> list[str]:
        return sorted(p for p, e in self._entries.items() if e.get("username") and e.get("password"))

    def account(self, payer_id: str, variant: str) -> PortalAccount:
        entry = self._entries.get(payer_id.upper(), {})
        url = entry.get("url") or self.default_url
        if not entry.get("username") or not entry.get("password") or not url:
            raise PortalCredentialsMissing(f"no portal credentials (username, password and URL) for payer {payer_id}")
        return PortalAccount(
            payer_id=payer_id,
            variant=variant,
            base_url=url,
            username=entry["username"],
            password=entry["password"],
            totp_secret=entry.get("totp_secret") or None,
        )


def _merge_json(entries: dict[str, dict[str, str]], text: str, source: str) -> None:
    try:
        loaded = json.loads(text)
    except ValueError:
        raise PortalCredentialsMissing(f"{source} cannot be read as JSON") from None
    if not isinstance(loaded, dict):
        raise PortalCredentialsMissing(f"{source} must hold an object per payer")
    for payer, values in loaded.items():
        if isinstance(values, dict):
            entries[str(payer).upper()] = {str(k): str(v) for k, v in values.items() if v is not None}
