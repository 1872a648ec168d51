"""Browser fixtures: Debian's Chromium driven by Python Playwright against the live server.

Install-safe: when `chromium` is missing and we run as root (CI on a machine like this one),
it is installed with apt-get; otherwise the run fails with a message saying what to install.
Never `playwright install` (it downloads browsers and fails offline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

# The viewer is in New York; accounts in the tests schedule in Berlin, so both zones show.
VIEWER_TZ = "America/New_York"
# Every run saves a screenshot of each view under test-artifacts/ (ignored by git);
# UPDATE_SCREENSHOTS=1 writes them to docs/screenshots/ instead, for the README.
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "test-artifacts" / "screenshots"
)

# Without the resolver rule Chromium still looks up update and autofill hosts; loopback must
# stay resolvable (see /work/shared/browser-testing.md).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session", autouse=True)
def _servers_before_browser(live_server: LiveServer) -> LiveServer:
    """Start the live server (whose setup uses asyncio.run) before Playwright's sync loop."""
    return live_server


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = _find_chromium()
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=False, env=env, capture_output=True)
        result = subprocess.run(
            ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, text=True
        )
        found = _find_chromium()
        if found:
            return found
        pytest.fail(
            "Chromium is required for the web app's browser tests and `apt-get install -y "
            f"chromium` failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    pytest.fail(
        "Chromium is required for the web app's browser tests: install Debian's package with "
        "`sudo apt-get install -y chromium` (or run the tests as root, which installs it).",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium_path: str
) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": chromium_path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 900},
        "timezone_id": VIEWER_TZ,
        "locale": "en-GB",
    }


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's source (installed once with npm, pinned; see tests/web/a11y.py)."""
    from tests.web.a11y import axe_path

    return axe_path().read_text(encoding="utf-8")


def _has_emoji_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    out = subprocess.run([fc_list], capture_output=True, text=True, check=False).stdout
    return "color emoji" in out.lower()


@pytest.fixture(scope="session")
def emoji_font(chromium_path: str) -> None:
    """A colour emoji font on the machine (the page uses the system's, Debian's
    fonts-noto-color-emoji here): installed with apt-get when missing and running as root, as
    Chromium is; otherwise the test fails with the command to run."""
    if _has_emoji_font():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "fonts-noto-color-emoji"],
            env=env,
            capture_output=True,
            check=False,
        )
        if _has_emoji_font():
            return
    pytest.fail(
        "The composer's emoji test needs a colour emoji font: "
        "`sudo apt-get install -y fonts-noto-color-emoji`",
        pytrace=False,
    )
