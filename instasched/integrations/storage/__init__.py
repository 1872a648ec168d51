"""S3-compatible object storage (SeaweedFS locally; MinIO or AWS in production)."""

from instasched.integrations.storage.s3 import Storage, StoredObject

__all__ = ["Storage", "StoredObject"]
