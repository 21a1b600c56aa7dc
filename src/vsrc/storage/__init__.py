"""Where media files live. ``Storage`` is the seam; ``LocalStorage`` is the embedded default."""

from vsrc.storage.base import Storage
from vsrc.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage"]
