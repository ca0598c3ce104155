"""The history archive: closed workflow histories (payloads still encrypted) and the audit log, kept write-once.

Each run of the ``history-archive`` batch flow writes one folder ``runs/<stamp>/`` holding the histories of the
workflows that closed in its time window (``histories/<workflow id>__<run id>.json``, exactly as
``carecycle audit export`` writes them), the audit-log rows recorded in the same window
(``audit-events.jsonl``, the rows as they are stored, one JSON object per line) and, last, ``manifest.json``:
the window, the counts, every file's SHA-256 and size, and the SHA-256 of the previous run's manifest, so a
manifest cannot be dropped or swapped unnoticed either. The next run starts where the newest manifest's window
ends. ``carecycle audit verify-archive`` recomputes every checksum and walks the chain.

Where: ``CARECYCLE_ARCHIVE_URL``: ``s3://bucket/prefix`` in production (the bucket has object lock in
COMPLIANCE mode, and each object is put with its own retain-until date, ``CARECYCLE_ARCHIVE_RETENTION_DAYS``,
six years by default), or ``file:///path`` (the embedded default, ``$CARECYCLE_HOME/archive``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

MANIFEST = "manifest.json"
FORMAT = 1


class ArchiveError(Exception):
    """The archive cannot be reached or is not an archive (the message says which)."""


class ArchiveStorage(Protocol):
    location: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def keys(self, prefix: str = "") -> list[str]: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FolderArchive:
    """A local folder; files are written whole (a reader never sees half) and then made read-only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ArchiveError(f"archive key {key!r} leaves the archive")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.chmod(0o440)
        partial.replace(path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"{key} is missing from the archive") from None

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        found = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()]
        return sorted(k for k in found if k.startswith(prefix) and not Path(k).name.startswith("."))


class S3Archive:
    """An S3 bucket with object lock: every object is put in COMPLIANCE mode until its retain-until date."""

    def __init__(
        self, client: Any, bucket: str, prefix: str, *, retention_days: int, kms_key_id: str | None = None
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention = timedelta(days=retention_days)
        self.kms_key_id = kms_key_id
        self.location = f"s3://{bucket}/{self.prefix}"

    def put(self, key: str, data: bytes) -> None:
        options: dict[str, Any] = {}
        if self.kms_key_id:
            options.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=datetime.now(UTC) + self.retention,
            **options,
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise ArchiveError(f"{key} is missing from the archive") from None
            raise
        return bytes(response["Body"].read())

    def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            found += [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]
        return sorted(found)


def open_archive(
    url: str,
    *,
    retention_days: int = 2190,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    kms_key_id: str | None = None,
) -> ArchiveStorage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FolderArchive(Path(unquote(parsed.path)))
    if parsed.scheme == "s3" and parsed.netloc:
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint_url else "auto"})
        client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        return S3Archive(client, parsed.netloc, parsed.path, retention_days=retention_days, kms_key_id=kms_key_id)
    raise ArchiveError(f"CARECYCLE_ARCHIVE_URL must be file:///path or s3://bucket/prefix, got {url!r}")


# --- runs and manifests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchivedFile:
    path: str  # relative to the run folder
    sha256: str
    bytes: int


@dataclass
class RunWriter:
    """Writes one run's files; ``finish`` writes the manifest that makes the run count."""

    storage: ArchiveStorage
    stamp: str
    files: list[ArchivedFile] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"runs/{self.stamp}/"

    def write(self, path: str, data: bytes) -> ArchivedFile:
        self.storage.put(self.folder + path, data)
        entry = ArchivedFile(path, sha256_hex(data), len(data))
        self.files = [f for f in self.files if f.path != path] + [entry]
        return entry

    def finish(self, window_from: datetime | None, window_to: datetime, counts: dict[str, int]) -> dict[str, Any]:
        previous = latest_manifest(self.storage)
        manifest = {
            "format": FORMAT,
            "run": self.stamp,
            "created_at": datetime.now(UTC).isoformat(),
            "window": {"from": window_from.isoformat() if window_from else None, "to": window_to.isoformat()},
            "counts": counts,
            "previous_manifest_sha256": previous[1] if previous else None,
            "files": [f.__dict__ for f in sorted(self.files, key=lambda f: f.path)],
        }
        self.storage.put(self.folder + MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        return manifest


def run_stamp(window_to: datetime) -> str:
    return window_to.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def manifest_keys(storage: ArchiveStorage) -> list[str]:
    """Every finished run's manifest, oldest first (run folders are named by their window's end)."""
    return [k for k in storage.keys("runs/") if k.count("/") == 2 and k.endswith("/" + MANIFEST)]


def latest_manifest(storage: ArchiveStorage) -> tuple[dict[str, Any], str] | None:
    keys = manifest_keys(storage)
    if not keys:
        return None
    data = storage.get(keys[-1])
    return json.loads(data), sha256_hex(data)


def next_window_start(storage: ArchiveStorage) -> datetime | None:
    latest = latest_manifest(storage)
    return datetime.fromisoformat(latest[0]["window"]["to"]) if latest else None


# --- verification -------------------------------------------------------------------------------------------


@dataclass
class Verification:
    location: str
    runs: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # files of runs that never wrote a manifest

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.location,
            "ok": self.ok,
            "runs": self.runs,
            "files": self.files,
            "problems": self.problems,
            "unfinished_runs": sorted({"/".join(k.split("/")[:2]) for k in self.unfinished}),
        }


def verify_archive(storage: ArchiveStorage) -> Verification:
    """Every file of every run against its manifest, and every manifest against the next one's back-link."""
    report = Verification(storage.location)
    listed: set[str] = set()
    previous_sha: str | None = None
    for key in manifest_keys(storage):
        folder = key[: -len(MANIFEST)]
        data = storage.get(key)
        try:
            manifest = json.loads(data)
        except ValueError:
            report.problems.append(f"{key}: not a JSON manifest")
            previous_sha = sha256_hex(data)
            continue
        report.runs += 1
        listed.add(key)
        if manifest.get("previous_manifest_sha256") != previous_sha:
            report.problems.append(f"{key}: does not link to the previous run's manifest (one was changed or removed)")
        previous_sha = sha256_hex(data)
        for entry in manifest.get("files", []):
            report.files += 1
            file_key = folder + entry["path"]
            listed.add(file_key)
            try:
                content = storage.get(file_key)
            except ArchiveError:
                report.problems.append(f"{file_key}: missing")
                continue
            if len(content) != entry["bytes"] or sha256_hex(content) != entry["sha256"]:
                report.problems.append(f"{file_key}: content differs from its checksum in the manifest")
    finished = {k[: -len(MANIFEST)] for k in listed if k.endswith(MANIFEST)}
    for key in storage.keys("runs/"):
        if key in listed:
            continue
        if any(key.startswith(folder) for folder in finished):
            report.problems.append(f"{key}: in a finished run but not in its manifest")
        else:
            report.unfinished.append(key)
    return report


def audit_rows_jsonl(rows: Iterator[dict[str, Any]]) -> tuple[bytes, int]:
    lines = [json.dumps(row, sort_keys=True, default=str) for row in rows]
    return ("\n".join(lines) + ("\n" if lines else "")).encode(), len(lines)
