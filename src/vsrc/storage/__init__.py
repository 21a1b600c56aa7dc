"""Where media files live. ``Storage`` is the seam; ``LocalStorage`` is the embedded default, ``S3Storage``
(``vsrc.storage.s3``, imported on demand: boto3 is slow to import) the object-storage backend."""

from vsrc.storage.base import IncomingObject, ObjectWriter, Storage
from vsrc.storage.factory import open_storage
from vsrc.storage.local import LocalStorage

__all__ = ["IncomingObject", "LocalStorage", "ObjectWriter", "Storage", "open_storage"]
