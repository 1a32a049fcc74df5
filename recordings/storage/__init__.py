"""Write-once storage backends for recordings (local directory, S3 with Object Lock)."""

from recordings.storage.base import CHUNK_SIZE, ByteRange, KeyPage, RecordingStore, StoredObject
from recordings.storage.errors import (
    IntegrityFailed,
    InvalidKey,
    ObjectNotFound,
    RangeNotSatisfiable,
    RetentionActive,
    StorageRefused,
    StorageUnavailable,
)
from recordings.storage.keys import validate_key

__all__ = [
    "CHUNK_SIZE", "ByteRange", "IntegrityFailed", "InvalidKey", "KeyPage", "ObjectNotFound",
    "RangeNotSatisfiable", "RecordingStore", "RetentionActive", "StorageRefused", "StorageUnavailable", "StoredObject",
    "validate_key",
]
