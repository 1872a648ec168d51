"""axe-core in the browser tests: every view is checked for WCAG violations.

axe-core is not vendored: the first run installs the pinned version with npm into a cache
directory (`$XDG_CACHE_HOME/instasched-tests`, else `~/.cache/instasched-tests`), later runs
reuse it. `AXE_CORE_JS` may point at an axe.min.js to use instead (a machine without npm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_VERSION = "4.14.1"
# The impacts that fail a test; "minor" and "moderate" findings are printed only.
BLOCKING = {"serious", "critical"}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "instasched-tests" / f"axe-core-{AXE_VERSION}"


def axe_path() -> Path:
    override = os.environ.get("AXE_CORE_JS")
    if override:
        return Path(override)
    target = _cache_dir()
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "The accessibility tests need axe-core: install npm (e.g. `apt-get install npm`) "
            "or set AXE_CORE_JS to an axe.min.js",
            pytrace=False,
        )
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(target),
            f"axe-core@{AXE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 or not script.is_file():
        pytest.fail(
            f"npm could not install axe-core@{AXE_VERSION}:\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    return script


def run_axe(page: Page, source: str, context: str = "document") -> list[dict[str, Any]]:
    """The serious and critical violations on the page as it is now (axe's WCAG 2.x A/AA
    rules and best practices). Evaluated through the DevTools protocol, so the page's CSP
    (script-src 'self') does not apply to it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source)
    result: dict[str, Any] = page.evaluate(
        f"""async () => await axe.run({context}, {{
            resultTypes: ['violations'],
            runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                             'wcag22aa', 'best-practice'] }},
        }})"""
    )
    found = []
    for v in result["violations"]:
        nodes = [n["target"] for n in v["nodes"]][:5]
        entry = {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": nodes}
        if v["impact"] in BLOCKING:
            found.append(entry)
        else:
            print(f"axe ({v['impact']}): {v['id']}: {v['help']} {nodes}")
    return found
