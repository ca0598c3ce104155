"""The biller accounts on the sandbox payer portal (Cascade SBXCC, Harbor SBXHH), for the embedded stack.

A practice gets its portal logins from each payer and gives them to carecycle (CARECYCLE_PORTAL_<PAYER>_* or
CARECYCLE_PORTAL_SECRETS_FILE). The sandbox portal is ours, so ``carecycle up`` makes one account per sandbox
payer on first start (a password and a TOTP secret, kept in ``$CARECYCLE_HOME/secrets`` like the other
generated secrets), opens them on the portal it serves, and hands them to the workers: the EOB schedules and
the claim-status searches log in out of the box. Credentials the environment gives for a payer win.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from workers.settings import Settings

SANDBOX_PORTAL_PAYERS = ("SBXCC", "SBXHH")


def accounts_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "sandbox-portal-accounts.json"


def new_accounts(prefix: str = "biller") -> dict[str, dict[str, str]]:
    """One TOTP account per sandbox portal payer, as the portal's admin API takes it."""
    return {
        payer: {
            "username": f"{prefix}-{payer.lower()}",
            "password": secrets.token_urlsafe(12),
            "otp": "totp",
            "totp_secret": base64.b32encode(secrets.token_bytes(10)).decode("ascii"),
        }
        for payer in SANDBOX_PORTAL_PAYERS
    }


def credentials_env(accounts: dict[str, dict[str, str]]) -> dict[str, str]:
    """The accounts as the workers' credential variables (activities.portals.credentials)."""
    env: dict[str, str] = {}
    for payer, account in accounts.items():
        env[f"CARECYCLE_PORTAL_{payer}_USERNAME"] = account["username"]
        env[f"CARECYCLE_PORTAL_{payer}_PASSWORD"] = account["password"]
        env[f"CARECYCLE_PORTAL_{payer}_TOTP_SECRET"] = account["totp_secret"]
    return env


def sandbox_portal_secrets(settings: Settings) -> tuple[dict[str, dict[str, str]], str]:
    """The home's sandbox portal accounts and admin token: made on first use (0600 file), then read back."""
    from workers.security.stack_secrets import SecretFileError, read_secret, write_secret

    path = accounts_file(settings)
    if not path.exists():
        body = {"admin_token": secrets.token_urlsafe(18), "accounts": new_accounts()}
        try:
            write_secret(path, json.dumps(body, indent=2))
        except FileExistsError:  # another process made them first: use theirs
            pass
    try:
        data: Any = json.loads(read_secret(path))
        accounts = {str(payer): {str(k): str(v) for k, v in entry.items()} for payer, entry in data["accounts"].items()}
        return accounts, str(data["admin_token"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SecretFileError(f"{path} is not a sandbox portal accounts file: remove it to make new accounts") from None


def with_sandbox_portal(settings: Settings, accounts: dict[str, dict[str, str]]) -> Settings:
    """Settings whose portal credentials include the sandbox accounts (the environment's win per payer; a
    configured secrets file is left alone, as the practice's own)."""
    from dataclasses import replace

    if settings.portal_secrets_file:
        return settings
    configured = {key.split("_")[2] for key in settings.portal_credentials_env if key.startswith("CARECYCLE_PORTAL_")}
    env = credentials_env({payer: a for payer, a in accounts.items() if payer not in configured})
    return replace(settings, portal_credentials_env={**env, **settings.portal_credentials_env})
