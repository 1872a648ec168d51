"""A Python client generated from /openapi.json with openapi-python-client drives the whole
journey (issue 21): register, log in, connect a sandbox account, upload, create a template and a
post from it, list, update, publish now, read the result. The client raises on any status the
document does not list, and parses every answer with the models the document describes, so a
place where /openapi.json and the API disagree fails here. The client is generated into a
temporary directory for the run, never committed."""

from __future__ import annotations

import importlib
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.factories import Api
from tests.media.files import jpeg_bytes

PACKAGE = "instasched_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory, live_server: Any) -> Iterator[str]:
    root = tmp_path_factory.mktemp("generated-client")
    spec = root / "openapi.json"
    spec.write_text(json.dumps(httpx.get(f"{live_server.url}/openapi.json").json()))
    # The CSV import also takes its file as a text/csv body, a content type the generator
    # reads as the binary body it knows (docs/api-clients.md).
    (root / "config.yaml").write_text(
        f"package_name_override: {PACKAGE}\npost_hooks: []\n"
        "content_type_overrides:\n  text/csv: application/octet-stream\n"
    )
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(generator), "generate", "--path", str(spec), "--meta", "none",
            "--output-path", str(root / PACKAGE), "--config", str(root / "config.yaml"),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Every operation and schema was generated: nothing the generator could not read.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _mod(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_the_generated_client_drives_the_whole_journey(
    client_package: str, live_server: Any, api: Api, worker: Any
) -> None:
    client_mod, models, types = _mod("client"), _mod("models"), _mod("types")
    base = live_server.url
    anonymous = client_mod.Client(base_url=base, raise_on_unexpected_status=True)
    email, password = f"gen-{secrets.token_hex(5)}@example.com", "generated client pass"

    # Register and log in (operations are named after the endpoint functions).
    register, login = _mod("api.auth.register"), _mod("api.auth.login")
    r = await register.asyncio_detailed(
        client=anonymous, body=models.Credentials(email=email, password=password)
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.UserOut), r.content
    r = await login.asyncio_detailed(
        client=anonymous, body=models.Credentials(email=email, password=password)
    )
    assert isinstance(r.parsed, models.TokenOut), r.content
    client = client_mod.AuthenticatedClient(
        base_url=base, token=r.parsed.access_token, raise_on_unexpected_status=True
    )
    # A wrong password: the documented 401 with the error body.
    r = await login.asyncio_detailed(
        client=anonymous, body=models.Credentials(email=email, password="wrong password!")
    )
    assert r.status_code == 401 and isinstance(r.parsed, models.ErrorBody)

    # Connect a sandbox account (the sandbox plays Instagram: its token comes from there).
    sandbox = await api.sandbox_user()
    connect = _mod("api.instagram_accounts.connect_account")
    r = await connect.asyncio_detailed(
        client=client,
        body=models.AccountCreate(access_token=sandbox["accessToken"], timezone="Europe/Paris"),
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.AccountOut), r.content
    account = r.parsed

    # Upload a photo (multipart).
    upload = _mod("api.media.upload_media")
    body_cls = next(
        getattr(models, n) for n in dir(models) if n.startswith("UploadMedia") and "Body" in n
    )
    r = await upload.asyncio_detailed(
        client=client,
        body=body_cls(
            file=types.File(
                payload=jpeg_bytes(1080, 1080), file_name="photo.jpg", mime_type="image/jpeg"
            )
        ),
        account_id=account.id,
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.MediaAsset), r.content
    media = r.parsed

    # A template, and a post created from it.
    create_template = _mod("api.templates.create_template")
    r = await create_template.asyncio_detailed(
        client=client,
        body=models.TemplateCreate.from_dict(
            {"name": "Launch", "captionTemplate": "Introducing {{product}}! #launch"}
        ),
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.Template), r.content
    template = r.parsed
    create_post = _mod("api.posts.create_post")
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    r = await create_post.asyncio_detailed(
        client=client,
        body=models.PostCreate.from_dict(
            {
                "instagramAccountId": str(account.id),
                "mediaType": "IMAGE",
                "mediaIds": [str(media.id)],
                "templateId": str(template.id),
                "templateVariables": {"product": "the Aurora lamp"},
                "scheduledFor": when.isoformat(),
            }
        ),
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.Post), r.content
    post = r.parsed
    assert post.caption == "Introducing the Aurora lamp! #launch"
    assert str(post.status) == "scheduled"
    # Enums are documented as enums (they were plain strings): a client can match on them.
    for value in (post.status, post.media_type, account.login_kind):
        assert isinstance(value, Enum), type(value)

    # List, then update.
    list_posts = _mod("api.posts.list_posts")
    r = await list_posts.asyncio_detailed(account.id, client=client)
    assert r.status_code == 200 and isinstance(r.parsed, models.PostList), r.content
    assert [p.id for p in r.parsed.posts] == [post.id]
    update_post = _mod("api.posts.update_post")
    r = await update_post.asyncio_detailed(
        post.id,
        client=client,
        body=models.PostUpdate.from_dict({"caption": "The Aurora lamp is here #launch"}),
    )
    assert r.status_code == 200 and isinstance(r.parsed, models.Post), r.content
    assert r.parsed.caption == "The Aurora lamp is here #launch"

    # Publish now, and read the result.
    publish_now = _mod("api.posts.publish_now")
    r = await publish_now.asyncio_detailed(post.id, client=client, wait_seconds=60)
    assert r.status_code == 200 and isinstance(r.parsed, models.Post), r.content
    assert str(r.parsed.status) == "published", r.content
    get_post = _mod("api.posts.get_post")
    r = await get_post.asyncio_detailed(account.id, post.id, client=client)
    assert r.status_code == 200 and isinstance(r.parsed, models.Post), r.content
    assert str(r.parsed.status) == "published"
    assert isinstance(r.parsed.permalink, str) and r.parsed.permalink.startswith("https://")
    assert r.parsed.published_at is not None

    # An API key with the read scope: reads work, publishing is the documented 403.
    create_key = _mod("api.api_keys.create_api_key")
    r = await create_key.asyncio_detailed(
        client=client, body=models.ApiKeyCreate.from_dict({"name": "ro", "scopes": ["read"]})
    )
    assert r.status_code == 201 and isinstance(r.parsed, models.ApiKeyCreated), r.content
    keyed = client_mod.AuthenticatedClient(
        base_url=base, token=r.parsed.key, raise_on_unexpected_status=True
    )
    r = await list_posts.asyncio_detailed(account.id, client=keyed)
    assert r.status_code == 200 and isinstance(r.parsed, models.PostList)
    assert r.headers["RateLimit-Limit"]
    r = await publish_now.asyncio_detailed(post.id, client=keyed)
    assert r.status_code == 403 and isinstance(r.parsed, models.ErrorBody)
    assert r.parsed.message == "this API key lacks the 'publish' scope"

    # A foreign id: the documented 404 with the error body.
    r = await get_post.asyncio_detailed(account.id, post.id.__class__(int=0), client=client)
    assert r.status_code == 404 and isinstance(r.parsed, models.ErrorBody)
