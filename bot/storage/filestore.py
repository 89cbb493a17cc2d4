"""Where attachments' bytes live: a folder (DATA_DIR/attachments, the default) or an
S3-compatible bucket (ATTACHMENT_S3_BUCKET set). Keys are `<conversation>/<attachment id>`, both
generated: no part of a key comes from a client.

boto3 is an optional dependency (`pip install supportbot[s3]`), imported only when a bucket is
configured."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

SAFE_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
# DeleteObjects takes at most this many keys a call.
S3_DELETE_BATCH = 1000


class FileStoreError(RuntimeError):
    """The attachment store could not be reached or refused a request."""


class FileStore(Protocol):
    """Bytes by (conversation, attachment id)."""

    def put(self, conversation_id: str, attachment_id: str, data: bytes) -> None:
        """Store `data` (overwriting)."""

    def get(self, conversation_id: str, attachment_id: str) -> bytes | None:
        """The bytes, or None when they are gone (erased meanwhile)."""

    def local_path(self, conversation_id: str, attachment_id: str) -> Path | None:
        """A file on this machine holding the bytes, when the store has one (served streaming)."""

    def delete(self, conversation_id: str, attachment_id: str) -> None:
        """Remove one file; no error if it is gone."""

    def delete_conversations(self, conversation_ids: Iterable[str]) -> None:
        """Remove every file of these conversations."""


class FolderStore:
    """Files at `<folder>/<conversation>/<attachment id>`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, conversation_id: str, attachment_id: str) -> Path:
        for part in (conversation_id, attachment_id):
            if not SAFE_PART.fullmatch(part):  # ids are ours; never a path from elsewhere
                raise ValueError(f"not an id: {part!r}")
        return self.folder / conversation_id / attachment_id

    def put(self, conversation_id: str, attachment_id: str, data: bytes) -> None:
        """Write the file (its folder made on demand)."""
        path = self._path(conversation_id, attachment_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def get(self, conversation_id: str, attachment_id: str) -> bytes | None:
        """The file's bytes, or None."""
        try:
            return self._path(conversation_id, attachment_id).read_bytes()
        except FileNotFoundError:
            return None

    def local_path(self, conversation_id: str, attachment_id: str) -> Path | None:
        """The file, if it exists."""
        path = self._path(conversation_id, attachment_id)
        return path if path.is_file() else None

    def delete(self, conversation_id: str, attachment_id: str) -> None:
        """Unlink the file (and its conversation's folder, if that leaves it empty)."""
        path = self._path(conversation_id, attachment_id)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()

    def delete_conversations(self, conversation_ids: Iterable[str]) -> None:
        """Remove the conversations' folders."""
        for conversation_id in conversation_ids:
            if SAFE_PART.fullmatch(conversation_id):
                shutil.rmtree(self.folder / conversation_id, ignore_errors=True)


class S3Store:
    """Objects `<prefix><conversation>/<attachment id>` in one bucket of an S3-compatible
    service (AWS, MinIO, Ceph, R2 ...)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(
        cls,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        prefix: str = "",
    ) -> S3Store:
        """A store on a bucket; credentials from the arguments, or boto3's usual chain."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise FileStoreError(
                "ATTACHMENT_S3_BUCKET is set but boto3 is not installed: "
                "pip install 'supportbot[s3]'"
            ) from exc
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5),
        )
        return cls(client, bucket, prefix)

    def _key(self, conversation_id: str, attachment_id: str) -> str:
        return f"{self.prefix}{conversation_id}/{attachment_id}"

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if method == "get_object" and code in ("NoSuchKey", "404"):
                return None
            raise FileStoreError(f"attachment store: {method} failed ({code or exc})") from exc
        except BotoCoreError as exc:
            raise FileStoreError(f"attachment store unreachable: {exc}") from exc

    def put(self, conversation_id: str, attachment_id: str, data: bytes) -> None:
        """PutObject."""
        self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self._key(conversation_id, attachment_id),
            Body=data,
            ContentType="application/octet-stream",
        )

    def get(self, conversation_id: str, attachment_id: str) -> bytes | None:
        """GetObject's body, or None when there is no such object."""
        answer = self._call(
            "get_object", Bucket=self.bucket, Key=self._key(conversation_id, attachment_id)
        )
        return None if answer is None else bytes(answer["Body"].read())

    def local_path(self, conversation_id: str, attachment_id: str) -> Path | None:
        """Never: objects are fetched."""
        return None

    def delete(self, conversation_id: str, attachment_id: str) -> None:
        """DeleteObject (S3 answers success for a missing key)."""
        self._call(
            "delete_object", Bucket=self.bucket, Key=self._key(conversation_id, attachment_id)
        )

    def delete_conversations(self, conversation_ids: Iterable[str]) -> None:
        """Every object under each conversation's prefix, listed then deleted in batches."""
        keys: list[str] = []
        for conversation_id in conversation_ids:
            token: str | None = None
            while True:
                page = self._call(
                    "list_objects_v2",
                    Bucket=self.bucket,
                    Prefix=f"{self.prefix}{conversation_id}/",
                    **({"ContinuationToken": token} if token else {}),
                )
                keys += [item["Key"] for item in page.get("Contents") or []]
                if not page.get("IsTruncated"):
                    break
                token = page.get("NextContinuationToken")
        for start in range(0, len(keys), S3_DELETE_BATCH):
            batch = keys[start : start + S3_DELETE_BATCH]
            answer = self._call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if answer.get("Errors"):
                raise FileStoreError(f"attachment store kept {len(answer['Errors'])} objects")


def file_store(settings: Settings) -> FileStore:
    """The configured store: the bucket when ATTACHMENT_S3_BUCKET is set, else the folder."""
    if settings.attachment_s3_bucket:
        return S3Store.connect(
            endpoint_url=settings.attachment_s3_endpoint_url,
            bucket=settings.attachment_s3_bucket,
            access_key_id=settings.attachment_s3_access_key_id,
            secret_access_key=settings.attachment_s3_secret_access_key,
            region=settings.attachment_s3_region,
            prefix=settings.attachment_s3_prefix,
        )
    return FolderStore(settings.attachments_dir)
