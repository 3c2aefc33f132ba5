"""Tools outside Python that some tests drive: Node.js, npm packages, Chromium.

A missing tool skips its test, visibly, on a developer's machine; in CI (`CI` set) it
fails the test instead (.ci/run installs them all). npm packages are installed once,
pinned, into a folder of the system's temporary directory named after their versions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

import pytest


def tool(name: str, needed_for: str) -> str:
    """The path of the program `name`; a skip when it is missing, or a failure in CI."""
    found = shutil.which(name)
    if found is None:
        why = f"`{name}` is not installed: {needed_for}"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI is set, so this is a failure; .ci/run installs it)")
        pytest.skip(why)
    return found


def installed_version(folder: Path, package: str) -> str | None:
    manifest = folder / "node_modules" / package / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version if isinstance(version, str) else None


def _is_ready(folder: Path, packages: Mapping[str, str], files: Mapping[str, str]) -> bool:
    return all(
        installed_version(folder, name) == version for name, version in packages.items()
    ) and all(
        (folder / name).is_file() and (folder / name).read_text() == text
        for name, text in files.items()
    )


def npm_folder(
    name: str, packages: Mapping[str, str], files: Mapping[str, str] | None = None
) -> Path:
    """A folder with `packages` (npm name -> exact version) installed, and `files`
    (file name -> text) written beside them; made once and reused while it matches."""
    files = files or {}
    npm = tool("npm", f"{name} installs its npm packages with it")
    pins = "-".join(version for version in packages.values())
    cache = Path(tempfile.gettempdir()) / f"storefront-{name}-{pins}"
    if _is_ready(cache, packages, files):
        return cache
    # Install beside the cache and move it into place: an interrupted install never
    # leaves a half-filled cache behind.
    staging = Path(tempfile.mkdtemp(prefix=f"{cache.name}-", dir=cache.parent))
    try:
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(staging),
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--loglevel=error",
                *(f"{package}@{version}" for package, version in packages.items()),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm install failed:\n{result.stdout}\n{result.stderr}"
        for file_name, text in files.items():
            (staging / file_name).write_text(text)
        shutil.rmtree(cache, ignore_errors=True)
        with suppress(OSError):  # another run may have moved its own copy in meanwhile
            staging.rename(cache)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    assert _is_ready(cache, packages, files), f"{name}: npm packages not installed in {cache}"
    return cache
