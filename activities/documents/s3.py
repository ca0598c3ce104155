"""The S3 document store (boto3): bucket and prefix from settings, optional SSE-KMS, hashes in metadata.

The SHA-256 travels as object metadata (``x-amz-meta-sha256``) and as the checksum S3 verifies on upload,
so neither the network nor the bucket can change a file unnoticed.
"""

from __future__ import annotations

import base64
from typing import Any

from activities.documents.store import (
    DocumentCorrupted,
    DocumentNotFound,
    DocumentStoreUnavailable,
    StoredDocument,
    check_size,
    refuse_audit_delete,
    sha256_hex,
    validate_key,
    validate_prefix,
)

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3DocumentStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        max_bytes: int = 50 * 1024 * 1024,
        kms_key_id: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
        self.max_bytes = max_bytes
        self.kms_key_id = kms_key_id

    @classmethod
    def connect(
        cls,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        max_bytes: int = 50 * 1024 * 1024,
        kms_key_id: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> S3DocumentStore:
        """A client from the standard AWS credential chain (or the keys given, for an S3-compatible server)."""
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        # A fresh session: the default one caches credentials for the life of the process.
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        return cls(client, bucket, prefix, max_bytes=max_bytes, kms_key_id=kms_key_id)

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _call(self, operation: str, key: str | None, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _NOT_FOUND:
                raise DocumentNotFound(f"no document at {key}") from None
            raise DocumentStoreUnavailable(f"S3 refused {operation} ({code or 'error'})") from None
        except BotoCoreError as exc:
            raise DocumentStoreUnavailable(f"S3 cannot be reached for {operation}: {type(exc).__name__}") from None

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredDocument:
        object_key = self._object_key(key)
        check_size(data, self.max_bytes)
        digest = sha256_hex(data)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": object_key,
            "Body": data,
            "ContentType": content_type,
            "Metadata": {"sha256": digest},
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(digest)).decode(),
        }
        if self.kms_key_id:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = self.kms_key_id
        self._call("put_object", key, **params)
        return StoredDocument(key, digest, len(data), content_type)

    def head(self, key: str) -> StoredDocument:
        response = self._call("head_object", key, Bucket=self.bucket, Key=self._object_key(key))
        return StoredDocument(
            key,
            str(response.get("Metadata", {}).get("sha256", "")),
            int(response["ContentLength"]),
            str(response.get("ContentType", "application/octet-stream")),
            response.get("LastModified"),
        )

    def get(self, key: str) -> bytes:
        response = self._call("get_object", key, Bucket=self.bucket, Key=self._object_key(key))
        data: bytes = response["Body"].read()
        expected = response.get("Metadata", {}).get("sha256")
        if expected and sha256_hex(data) != expected:
            raise DocumentCorrupted(f"the document at {key} does not match its stored hash")
        return data

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except DocumentNotFound:
            return False
        return True

    def list(self, prefix: str = "") -> list[StoredDocument]:
        validate_prefix(prefix)
        found: list[StoredDocument] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
            if token:
                params["ContinuationToken"] = token
            page = self._call("list_objects_v2", None, **params)
            for item in page.get("Contents", []):
                key = str(item["Key"])[len(self.prefix) :]
                # The listing has no metadata: one HEAD per object gives the hash and content type.
                found.append(self.head(key))
            if not page.get("IsTruncated"):
                return found
            token = page.get("NextContinuationToken")

    def presigned_url(self, key: str, expires_seconds: int = 900) -> str:
        if not self.exists(key):
            raise DocumentNotFound(f"no document at {key}")
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object_key(key)}, ExpiresIn=expires_seconds
        )
        return url

    def delete(self, key: str) -> None:
        refuse_audit_delete(key)
        if not self.exists(key):
            raise DocumentNotFound(f"no document at {key}")
        self._call("delete_object", key, Bucket=self.bucket, Key=self._object_key(key))
