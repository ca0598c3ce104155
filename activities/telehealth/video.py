"""The video vendor, shaped after Daily's REST API (https://docs.daily.co/reference/rest-api).

Rooms: ``POST /rooms`` (name, privacy, properties.exp / enable_knocking for a waiting room), ``POST /rooms/:name``
(update), ``DELETE /rooms/:name``. Participant access: ``POST /meeting-tokens`` (properties.room_name, user_id,
is_owner, exp) returns a signed token; a join link is the room's URL with ``?t=<token>``. A token only opens
its own room, so deleting the room revokes every token issued for it. Webhooks: ``POST /webhooks`` (url, hmac,
eventTypes) for participant.joined, participant.left and meeting.ended, signed with ``X-Webhook-Signature``.
The sandbox (sandbox.video) speaks the same API; production points the base URL and key at Daily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from activities.vendors import VendorClient, VendorRefused

WEBHOOK_EVENTS = ("participant.joined", "participant.left", "meeting.ended")


@dataclass(frozen=True)
class Room:
    name: str
    url: str


class VideoVendor(Protocol):
    provider: str

    def open_room(self, name: str, expires_epoch: int) -> tuple[Room, bool]: ...

    def meeting_token(self, room: str, user_id: str, is_owner: bool, expires_epoch: int) -> str: ...

    def delete_room(self, name: str) -> bool: ...


class DailyVideo:
    provider = "daily"

    def __init__(self, base_url: str, api_key: str) -> None:
        self._client = VendorClient(base_url, {"Authorization": f"Bearer {api_key}"}, name="video")

    def open_room(self, name: str, expires_epoch: int) -> tuple[Room, bool]:
        """Create the private room with a waiting room (knocking), or move an existing one's expiry; returns the
        room and whether it was created."""
        properties = {"exp": expires_epoch, "enable_knocking": True, "enable_prejoin_ui": True}
        try:
            answer = self._client.json("POST", "/rooms", {"name": name, "privacy": "private", "properties": properties})
            created = True
        except VendorRefused as refused:
            if refused.status != 400 or "already exists" not in str(refused):
                raise
            answer = self._client.json("POST", f"/rooms/{name}", {"properties": properties})
            created = False
        return Room(str(answer["name"]), str(answer["url"])), created

    def meeting_token(self, room: str, user_id: str, is_owner: bool, expires_epoch: int) -> str:
        answer = self._client.json(
            "POST",
            "/meeting-tokens",
            {
                "properties": {
                    "room_name": room,
                    "user_id": user_id,  # a role and an opaque id, never a name
                    "is_owner": is_owner,
                    "exp": expires_epoch,
                    "eject_at_token_exp": True,
                }
            },
        )
        return str(answer["token"])

    def delete_room(self, name: str) -> bool:
        try:
            answer = self._client.json("DELETE", f"/rooms/{name}")
        except VendorRefused as refused:
            if refused.status == 404:
                return False
            raise
        return bool(answer.get("deleted", True))

    def register_webhook(self, url: str, hmac_secret: str) -> None:
        self._client.json("POST", "/webhooks", {"url": url, "hmac": hmac_secret, "eventTypes": list(WEBHOOK_EVENTS)})


def join_url(room: Room, token: str) -> str:
    return f"{room.url}?t={token}"
