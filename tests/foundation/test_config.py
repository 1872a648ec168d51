"""Configuration contracts: every variable is documented; the spec's aliases work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import AliasChoices

from instasched.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c) for c in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
    return names


def test_env_example_lists_every_variable() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in text.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    }
    missing = _env_names() - documented
    assert not missing, f".env.example does not list {sorted(missing)}"


def test_spec_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _env_names():  # the machine's own settings must not leak in
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        MINIO_ENDPOINT="minio.internal",
        MINIO_PORT=9000,
        MINIO_ACCESS_KEY="ak",
        MINIO_SECRET_KEY="sk",
        MINIO_BUCKET_INSTAGRAM="media-bucket",
        REDIS_HOST="redis.internal",
        REDIS_PORT=6380,
        MAX_FILE_SIZE=1234,
        DATABASE_URL="postgres://u:p@db:5432/app",
    )
    assert settings.s3_endpoint == "http://minio.internal:9000"
    assert (settings.s3_access_key, settings.s3_secret_key) == ("ak", "sk")
    assert settings.s3_bucket == "media-bucket"
    assert settings.redis_url == "redis://redis.internal:6380/0"
    assert settings.max_file_size == 1234
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/app"
    explicit = Settings(
        _env_file=None,  # type: ignore[call-arg]
        REDIS_URL="redis://other:1/2",
        REDIS_HOST="ignored",
        S3_ENDPOINT="https://s3.example.com",
        MINIO_ENDPOINT="ignored",
    )
    assert explicit.redis_url == "redis://other:1/2"
    assert explicit.s3_endpoint == "https://s3.example.com"


def _run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _env_names()}
    return subprocess.run(
        [sys.executable, "-m", "instasched", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_missing_or_weak_secrets(tmp_path: Path) -> None:
    env = {
        "INSTASCHED_ENV": "production",
        "INSTASCHED_DATA_DIR": str(tmp_path / "data"),
        "INSTAGRAM_APP_ID": "app",
        "INSTAGRAM_APP_SECRET": "app-secret",
    }
    result = _run_cli(["api"], env, tmp_path)
    assert result.returncode != 0
    assert "JWT_SECRET and TOKEN_ENCRYPTION_KEY must be set in production" in result.stderr
    assert not (tmp_path / "data" / "secrets.json").exists(), "no secret is generated"

    weak = {**env, "JWT_SECRET": "changeme", "TOKEN_ENCRYPTION_KEY": "k" * 40}
    result = _run_cli(["api"], weak, tmp_path)
    assert result.returncode != 0
    assert "JWT_SECRET must be at least 32 characters" in result.stderr


def test_production_refuses_the_sandbox_unless_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Meta's app credentials, production does not fall back to the sandbox (anyone
    could sign in to it); INSTAGRAM_SANDBOX=true runs on it on purpose."""
    for name in _env_names():
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="set INSTAGRAM_SANDBOX=true"):
        Settings(_env_file=None, INSTASCHED_ENV="production")  # type: ignore[call-arg]
    explicit = Settings(_env_file=None, INSTASCHED_ENV="production", INSTAGRAM_SANDBOX="true")  # type: ignore[call-arg]
    assert explicit.sandbox_enabled and not explicit.sandbox_control_open
    real = Settings(
        _env_file=None,  # type: ignore[call-arg]
        INSTASCHED_ENV="production",
        INSTAGRAM_APP_ID="app",
        INSTAGRAM_APP_SECRET="secret",
    )
    assert not real.sandbox_enabled
    assert Settings(_env_file=None).sandbox_enabled  # type: ignore[call-arg]
    assert Settings(_env_file=None).sandbox_control_open  # type: ignore[call-arg]

    secrets = {"JWT_SECRET": "j" * 40, "TOKEN_ENCRYPTION_KEY": "k" * 40}
    env = {"INSTASCHED_ENV": "production", "INSTASCHED_DATA_DIR": str(tmp_path), **secrets}
    result = _run_cli(["api"], env, tmp_path)
    assert result.returncode != 0
    assert "set INSTAGRAM_SANDBOX=true" in result.stderr
    assert "Traceback" not in result.stderr


def test_local_secrets_are_generated_once(tmp_path: Path) -> None:
    from instasched.security import TokenCipher, load_or_create_local_secrets

    first = load_or_create_local_secrets(tmp_path)
    second = load_or_create_local_secrets(tmp_path)
    assert first == second and len(first["JWT_SECRET"]) >= 32
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    cipher = TokenCipher(first["TOKEN_ENCRYPTION_KEY"])
    assert cipher.decrypt(cipher.encrypt("IGSLtoken")) == "IGSLtoken"
    # Key rotation: a new key first, the old one still decrypts.
    rotated = TokenCipher("a new passphrase," + first["TOKEN_ENCRYPTION_KEY"])
    assert rotated.decrypt(cipher.encrypt("IGSLtoken")) == "IGSLtoken"
    with pytest.raises(ValueError, match="TOKEN_ENCRYPTION_KEY"):
        TokenCipher("another key").decrypt(cipher.encrypt("IGSLtoken"))
