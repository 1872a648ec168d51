"""The direct SigV4 presigner: botocore's URL byte for byte (endpoints, keys of every media kind,
expiries, moments), and accepted by a real S3 server for objects of each content type."""

from __future__ import annotations

import datetime as dt
import secrets
from unittest import mock

import botocore.auth
import httpx
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from instasched.config import Settings
from instasched.integrations.storage.presign import Presigner
from instasched.integrations.storage.s3 import Storage

NOW = dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=dt.UTC)
KEYS = [
    "users/abc/2026/11/1.jpg",
    "a b+c~d!e'(f)*.jpg",
    "ünï/cödé%20x.jpg",
    "k?x=1&y#z",
    "sp ace/ /double//slash.jpg",
]
# Keys as uploads name them, one per media kind the library stores (image/jpeg, image/png,
# video/mp4, video/quicktime, a converted video): the content type is not part of a GET's
# signature, the key's characters and extension are.
MEDIA_KEYS = {
    "workspaces/7d0c/2026/12/0a1b2c3d.jpg": "image/jpeg",
    "workspaces/7d0c/2026/12/0a1b2c3d.png": "image/png",
    "workspaces/7d0c/2026/12/clip.mp4": "video/mp4",
    "workspaces/7d0c/2026/12/Clip Final (2).MOV": "video/quicktime",
    "workspaces/7d0c/2026/12/clip.converted.mp4": "video/mp4",
}
# Expiries: a second, the API's default, the publish-time default, a day, SigV4's maximum.
TTLS = (1, 3600, 21600, 86400, 604800)
MOMENTS = (NOW, dt.datetime(2027, 2, 28, 0, 0, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8333",
        "https://minio.example.com",
        "https://minio.example.com:443",
        "http://storage:80",
        "https://s3.example.com:9000",
        "http://[::1]:9000",
    ],
)
async def test_same_url_as_botocore(endpoint: str) -> None:
    session = get_session()
    config = AioConfig(signature_version="s3v4", s3={"addressing_style": "path"})
    credentials = {"aws_access_key_id": "AKID/x+y", "aws_secret_access_key": "sec+ret/1"}
    presigner = Presigner(
        endpoint=endpoint,
        access_key="AKID/x+y",
        secret_key="sec+ret/1",
        region="eu-west-3",
        bucket="media-bucket",
    )
    async with session.create_client(
        "s3", endpoint_url=endpoint, region_name="eu-west-3", config=config, **credentials
    ) as client:
        for moment in MOMENTS:
            for key in [*KEYS, *MEDIA_KEYS]:
                for ttl in TTLS:
                    with mock.patch.object(
                        botocore.auth,
                        "get_current_datetime",
                        return_value=moment.replace(tzinfo=None),
                    ):
                        expected = await client.generate_presigned_url(
                            "get_object",
                            Params={"Bucket": "media-bucket", "Key": key},
                            ExpiresIn=ttl,
                        )
                    got = presigner.get_url(key, ttl, now=moment)
                    assert got == expected, (endpoint, key, ttl, moment)


def test_signing_key_follows_the_day() -> None:
    presigner = Presigner(
        endpoint="http://s3:9000", access_key="a", secret_key="b", region="us-east-1", bucket="x"
    )
    today = presigner.get_url("k.jpg", 60, now=NOW)
    tomorrow = presigner.get_url("k.jpg", 60, now=NOW + dt.timedelta(seconds=1))
    assert "X-Amz-Date=20261129T235959Z" in today and "%2F20261129%2F" in today
    assert "X-Amz-Date=20261130T000000Z" in tomorrow and "%2F20261130%2F" in tomorrow
    # Signed again with the new day's key: the same URL as a fresh presigner gives.
    fresh = Presigner(
        endpoint="http://s3:9000", access_key="a", secret_key="b", region="us-east-1", bucket="x"
    )
    assert fresh.get_url("k.jpg", 60, now=NOW + dt.timedelta(seconds=1)) == tomorrow


async def test_real_s3_serves_signed_urls_and_refuses_tampered_ones(
    app_settings: Settings,
) -> None:
    storage = Storage.for_settings(app_settings)
    await storage.start()
    try:
        await storage.ensure_bucket()
        assert storage._presigner is not None  # the embedded/local S3 has an endpoint and keys
        run = secrets.token_hex(4)
        types = {f"presign-test/{run}/{name}": "text/plain" for name in KEYS} | {
            f"presign-test/{run}/{name}": kind for name, kind in MEDIA_KEYS.items()
        }
        keys = list(types)
        for key, kind in types.items():
            await storage.put_bytes(key, key.encode(), kind)
        try:
            async with httpx.AsyncClient() as http:
                for key in keys:
                    url = await storage.presign_get(key, 300)
                    ok = await http.get(httpx.URL(url))
                    assert ok.status_code == 200, (key, ok.text)
                    assert ok.content == key.encode()
                    assert ok.headers["content-type"] == types[key]
                    forged = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
                    refused = await http.get(httpx.URL(forged))
                    assert refused.status_code == 403, (key, refused.status_code)
        finally:
            await storage.delete(*keys)
    finally:
        await storage.close()


async def test_botocore_signs_when_no_endpoint_is_configured() -> None:
    storage = Storage(endpoint=None, access_key="k", secret_key="s", bucket="b", region="eu-west-1")
    await storage.start()
    try:
        assert storage._presigner is None
        url = await storage.presign_get("u/x.jpg", 600)
        assert url.startswith("https://s3.eu-west-1.amazonaws.com/b/u/x.jpg?")
        assert "X-Amz-Signature=" in url
    finally:
        await storage.close()
