"""The documentation stays true to the code: the configuration reference is generated from the
Settings class and names every setting; README.md's links point at files that exist.

`mkdocs build --strict` (run by .ci/run) checks the site's own links, anchors and nav."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import Field

from instasched.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _hook() -> ModuleType:
    path = ROOT / "docs" / "hooks" / "settings_reference.py"
    spec = importlib.util.spec_from_file_location("settings_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_lists_every_setting_with_its_default() -> None:
    hook = _hook()
    page = hook.render()
    rows = {
        line.split(" | ")[0].split("`")[1]: line for line in page.splitlines() if line[:3] == "| `"
    }
    for name, field in Settings.model_fields.items():
        names = hook.env_names(field)
        assert names, f"{name} reads no environment variable"
        assert names[0] in rows, f"{names[0]} is not in the configuration reference"
        row = rows[names[0]]
        for alias in names[1:]:
            assert f"`{alias}`" in row, f"{alias} (alias of {names[0]}) is not in its row"
        assert field.description and " ".join(field.description.split()) in row.replace("\\|", "|")
    assert rows["PORT"].startswith("| `PORT` | `3000` | integer |")
    assert rows["LOG_FORMAT"].startswith("| `LOG_FORMAT` | `json` | `json` / `console` |")
    assert "≥ 1" in rows["API_WORKERS"]


def test_configuration_page_asks_for_the_reference() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert _hook().MARKER in page
    rendered = _hook().on_page_markdown(page)
    assert "| `DISPATCH_HORIZON_SECONDS` | `3600` |" in rendered
    assert "## Publishing" in rendered and "## Operations" in rendered


def test_a_setting_without_a_description_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _hook()

    class Undescribed(Settings):
        undocumented_knob: int = Field(1, validation_alias="UNDOCUMENTED_KNOB")

    monkeypatch.setattr(hook, "Settings", Undescribed)
    with pytest.raises(ValueError, match="undocumented_knob"):
        hook.render()


def test_readme_links_point_at_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert local, "README.md links nothing"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links files that do not exist: {missing}"
    assert (ROOT / "docs" / "assets" / "sample-post.jpg").exists()  # the walkthrough's image
