"""Async S3 client (aiobotocore): streamed puts, presigned GETs, deletes, usage."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from instasched.integrations.storage.presign import Presigner

if TYPE_CHECKING:
    from instasched.config import Settings

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str | None = None


class Storage:
    def __init__(
        self,
        *,
        endpoint: str | None,
        access_key: str | None,
        secret_key: str | None,
        bucket: str,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.public_endpoint = public_endpoint or endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.region = region
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._signer: Any = None
        # URLs signed without botocore when the endpoint and keys are given (MinIO, SeaweedFS,
        # AWS with an endpoint URL); otherwise botocore resolves endpoint and credentials.
        self._presigner: Presigner | None = None
        if self.public_endpoint and access_key and secret_key:
            self._presigner = Presigner(
                endpoint=self.public_endpoint,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                bucket=bucket,
            )

    @classmethod
    def for_settings(cls, settings: Settings) -> Storage:
        """The storage the settings describe (not started: `await storage.start()`)."""
        return cls(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            public_endpoint=settings.s3_public_endpoint,
        )

    def _config(self) -> AioConfig:
        return AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=64,
            connect_timeout=5,
            read_timeout=60,
        )

    async def start(self) -> None:
        session = get_session()
        self._stack = AsyncExitStack()
        common: dict[str, Any] = {
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": self._config(),
        }
        self._client = await self._stack.enter_async_context(
            session.create_client("s3", endpoint_url=self.endpoint, **common)
        )
        if self.public_endpoint != self.endpoint:
            # Presigning is offline: a client for the public address signs URLs for it.
            self._signer = await self._stack.enter_async_context(
                session.create_client("s3", endpoint_url=self.public_endpoint, **common)
            )
        else:
            self._signer = self._client

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("Storage.start() was not awaited")
        return self._client

    # --- buckets -------------------------------------------------------------------------
    async def ensure_bucket(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            with contextlib.suppress(ClientError):
                await self.client.create_bucket(Bucket=self.bucket)
            await self.client.head_bucket(Bucket=self.bucket)

    async def ping(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)

    # --- objects -------------------------------------------------------------------------
    def object_url(self, key: str) -> str:
        """The object's address (`s3_url`): not fetchable without a signature."""
        base = (self.endpoint or f"https://s3.{self.region}.amazonaws.com").rstrip("/")
        return f"{base}/{self.bucket}/{key}"

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> StoredObject:
        await self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
        )
        return StoredObject(key=key, size=len(data), content_type=content_type)

    async def put_file(self, key: str, path: Path, content_type: str) -> StoredObject:
        """Upload a file from disk; multipart above 16 MB so memory stays bounded."""
        size = path.stat().st_size  # noqa: ASYNC240 - one stat of a local temp file
        if size <= MULTIPART_THRESHOLD:
            with path.open("rb") as fh:
                await self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=fh, ContentType=content_type
                )
            return StoredObject(key=key, size=size, content_type=content_type)
        created = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        try:
            with path.open("rb") as fh:
                number = 1
                while chunk := fh.read(PART_SIZE):
                    part = await self.client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
            await self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        return StoredObject(key=key, size=size, content_type=content_type)

    async def get_bytes(self, key: str) -> bytes:
        response = await self.client.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as stream:
            data: bytes = await stream.read()
        return data

    async def get_file(self, key: str, path: Path, *, chunk_size: int = 1024 * 1024) -> int:
        """Stream an object into a file (bounded memory; writes off the event loop); its size."""
        response = await self.client.get_object(Bucket=self.bucket, Key=key)
        size = 0
        fh = await asyncio.to_thread(open, path, "wb")
        try:
            async with response["Body"] as stream:
                while chunk := await stream.read(chunk_size):
                    await asyncio.to_thread(fh.write, chunk)
                    size += len(chunk)
        finally:
            await asyncio.to_thread(fh.close)
        return size

    async def head(self, key: str) -> StoredObject | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(
            key=key, size=int(head["ContentLength"]), content_type=head.get("ContentType")
        )

    async def delete(self, *keys: str | None) -> None:
        wanted = [k for k in keys if k]
        for start in range(0, len(wanted), 1000):
            batch = wanted[start : start + 1000]
            await self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )

    async def list_keys(self, prefix: str = "") -> list[StoredObject]:
        found: list[StoredObject] = []
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(StoredObject(key=item["Key"], size=int(item["Size"])))
        return found

    async def presign_get(self, key: str, ttl_seconds: int) -> str:
        if self._presigner is not None:
            return self._presigner.get_url(key, ttl_seconds)
        url: str = await self._signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url
