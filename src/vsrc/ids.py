"""Public identifiers: ``vod_``/``live_`` + UUID4, and their validation."""

from __future__ import annotations

import re
import uuid

VOD_PREFIX = "vod_"
LIVE_PREFIX = "live_"
UPLOAD_PREFIX = "upl_"
VOD_ID_RE = re.compile(r"^vod_[a-f0-9\-]+\Z")
LIVE_ID_RE = re.compile(r"^live_[a-f0-9\-]+\Z")
MEDIA_ID_RE = re.compile(r"^(vod|live)_[a-f0-9\-]+\Z")
UPLOAD_ID_RE = re.compile(r"^upl_[a-f0-9\-]+\Z")


def new_vod_id() -> str:
    return VOD_PREFIX + str(uuid.uuid4())


def new_live_id() -> str:
    return LIVE_PREFIX + str(uuid.uuid4())


def new_upload_id() -> str:
    return UPLOAD_PREFIX + str(uuid.uuid4())
