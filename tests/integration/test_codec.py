"""The AES-GCM payload codec: rotation, tampering, key files, raw histories on a real dev server carry no
plaintext (payloads and failure messages), and the codec server decodes for token holders only."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import httpx

    from tests.support.dev_stack import free_port, stack_settings
    from workers.security.codec import AesGcmCodec, PayloadDecryptionError
    from workers.security.keys import CodecKeyError, generate_key_file, load_keys, new_key_entry, parse_keys
    from workers.security.server import COOKIE, create_codec_app
    from workers.settings import Settings
    from workers.stack import serve_asgi
    from workers.temporal import embedded_stack

SECRET = "Zebadiah Quarrington 1961-04-12 MBR998877"


@workflow.defn(name="EchoForCodecTest")
class EchoWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        if text.startswith("fail:"):
            raise ApplicationError(f"cannot handle {text}", non_retryable=True)
        return text.upper()


async def test_round_trip_and_rotation() -> None:
    old = parse_keys(new_key_entry("k1"))
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())
    [sealed] = await AesGcmCodec(old).encode([payload])
    assert SECRET.encode() not in sealed.data and sealed.metadata["encryption-key-id"] == b"k1"

    both = parse_keys(
        new_key_entry("k2") + "," + ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in old.keys.items())
    )
    rotated = AesGcmCodec(both)
    assert rotated.active_key_id == "k2"
    assert (await rotated.decode([sealed]))[0] == payload  # old histories still decode
    [fresh] = await rotated.encode([payload])
    assert fresh.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(PayloadDecryptionError, match="unknown key id 'k2'"):
        await AesGcmCodec(old).decode([fresh])

    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="does not authenticate"):
        await rotated.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata["encryption-key-id"] = b"k2"
    with pytest.raises(PayloadDecryptionError):
        await rotated.decode([relabelled])
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    assert (await rotated.decode([plain]))[0] == plain


def test_key_configuration_errors_name_no_key_material(tmp_path: Path) -> None:
    with pytest.raises(CodecKeyError, match="kid:base64key"):
        parse_keys("justtext")
    with pytest.raises(CodecKeyError, match="must be 16, 24 or 32 bytes"):
        parse_keys("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(CodecKeyError, match="not among"):
        parse_keys(new_key_entry("k1"), active="k9")
    settings = Settings(home=tmp_path, database_url="sqlite://")
    with pytest.raises(CodecKeyError, match="no codec keys"):
        load_keys(settings)
    created = load_keys(settings, create_if_missing=True)
    key_file = tmp_path / "secrets" / "codec-keys"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_keys(settings).keys == created.keys  # the same file on the next start
    os.chmod(key_file, 0o644)
    with pytest.raises(CodecKeyError, match="chmod 600"):
        load_keys(settings)
    with pytest.raises(FileExistsError):
        generate_key_file(key_file)


@pytest.mark.temporal
async def test_raw_history_holds_no_plaintext_and_failures_are_encoded(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path, "sqlite://")
    async with embedded_stack(settings, ui=False) as temporal:
        queue = f"codec-{uuid.uuid4()}"
        async with Worker(temporal.client, task_queue=queue, workflows=[EchoWorkflow]):
            ok = await temporal.client.execute_workflow(
                EchoWorkflow.run, SECRET, id=f"echo-{uuid.uuid4()}", task_queue=queue
            )
            assert ok == SECRET.upper()
            failing_id = f"echo-{uuid.uuid4()}"
            with pytest.raises(WorkflowFailureError) as failed:
                await temporal.client.execute_workflow(
                    EchoWorkflow.run, f"fail:{SECRET}", id=failing_id, task_queue=queue
                )
            assert SECRET in str(failed.value.cause)  # decoded for a client holding the key
        raw_client = await Client.connect(temporal.target)  # no codec: what the server stores
        async for execution in raw_client.list_workflows(f'TaskQueue="{queue}"'):
            history = await raw_client.get_workflow_handle(execution.id).fetch_history()
            raw = history.to_json()
            for needle in ("Zebadiah", "1961-04-12", "MBR998877", "ZEBADIAH"):
                assert needle not in raw
            assert base64.b64encode(b"binary/encrypted").decode() in raw
        failed_history = await raw_client.get_workflow_handle(failing_id).fetch_history()
        failure = failed_history.events[-1].workflow_execution_failed_event_attributes.failure
        assert failure.message == "Encoded failure"


async def test_codec_server_decodes_for_token_holders_only() -> None:
    keys = parse_keys(new_key_entry("k1"))
    codec = AesGcmCodec(keys)
    ui = "http://127.0.0.1:8233"
    app = create_codec_app(codec, tokens=["s3cret-token"], allowed_origins=[ui])
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())
    sealed = codec.encode_one(payload)
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    port = free_port()
    async with serve_asgi(app, "127.0.0.1", port), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.post("/decode", json=body)).status_code == 401
        assert (await client.post("/decode", json=body, headers={"Authorization": "Bearer wrong"})).status_code == 401
        token = {"Authorization": "Bearer s3cret-token", "X-Namespace": "default"}
        decoded = await client.post("/decode", json=body, headers=token)
        assert decoded.status_code == 200
        [out] = decoded.json()["payloads"]
        assert json.loads(base64.b64decode(out["data"])) == SECRET
        encoded = await client.post("/encode", json={"payloads": [out]}, headers=token)
        assert base64.b64decode(encoded.json()["payloads"][0]["metadata"]["encoding"]) == b"binary/encrypted"
        preflight = {
            "Origin": ui,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        }
        allowed = await client.options("/decode", headers=preflight)
        assert allowed.headers.get("access-control-allow-origin") == ui
        foreign = await client.options("/decode", headers={**preflight, "Origin": "http://evil.example"})
        assert foreign.headers.get("access-control-allow-origin") is None
        assert (await client.post("/decode", content=b"not json", headers=token)).status_code == 400

        # A browser (the Web UI with "Include cross-origin credentials") is authorized by typing the token once.
        assert (await client.get("/authorize")).status_code == 200
        assert (await client.post("/authorize", data={"token": "wrong"})).status_code == 401
        assert COOKIE not in client.cookies
        authorized = await client.post("/authorize", data={"token": "s3cret-token"})
        assert authorized.status_code == 200 and "httponly" in authorized.headers["set-cookie"].lower()
        assert "s3cret-token" not in authorized.headers["set-cookie"]  # the cookie proves the token, is not it
        from_browser = await client.post("/decode", json=body, headers={"Origin": ui})
        assert from_browser.status_code == 200
        assert from_browser.headers.get("access-control-allow-credentials") == "true"
        client.cookies.set(COOKIE, "0" * 64)
        assert (await client.post("/decode", json=body)).status_code == 401


def test_codec_server_refuses_to_run_without_a_token() -> None:
    codec = AesGcmCodec(parse_keys(new_key_entry("k1")))
    with pytest.raises(ValueError, match="access token"):
        create_codec_app(codec, tokens=[])
    with pytest.raises(ValueError, match="access token"):
        create_codec_app(codec, tokens=[""])
