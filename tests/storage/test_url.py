"""VSRC_STORAGE_URL parsing: every accepted form, and an error naming the wrong part otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from vsrc.config import Settings
from vsrc.errors import ConfigError
from vsrc.storage.url import FileLocation, S3Location, parse_storage_url


def test_file_urls(tmp_path: Path) -> None:
    assert parse_storage_url(f"file://{tmp_path}") == FileLocation(tmp_path.resolve())
    settings = Settings(data_dir=tmp_path)
    assert settings.storage_location == FileLocation(tmp_path.resolve() / "storage")
    assert settings.storage_root == tmp_path.resolve() / "storage"


def test_s3_urls() -> None:
    assert parse_storage_url("s3://media-bucket") == S3Location("media-bucket", "", None, None)
    assert parse_storage_url(
        "s3://media.bucket/vsrc/prod/?endpoint=http://127.0.0.1:9000/&region=eu-west-1"
    ) == S3Location("media.bucket", "vsrc/prod", "http://127.0.0.1:9000", "eu-west-1")


def test_s3_settings_have_no_local_root(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage_url="s3://bucket-a/p?region=us-east-1")
    assert isinstance(settings.storage_location, S3Location)
    with pytest.raises(ConfigError, match="no local storage root"):
        _ = settings.storage_root


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://host/x", "unsupported storage URL scheme 'ftp'"),
        ("/var/lib/vsrc", "not a storage URL: '/var/lib/vsrc'"),
        ("file://", "file:// needs a path"),
        ("s3://", "invalid S3 bucket name ''"),
        ("s3://Bad_Bucket", "invalid S3 bucket name 'Bad_Bucket'"),
        ("s3://key:secret@bucket-a", "carry no credentials"),
        ("s3://bucket-a/a/../b", "invalid S3 prefix"),
        ("s3://bucket-a/a//b", "invalid S3 prefix"),
        ("s3://bucket-a?endpont=http://x", "unknown s3:// URL parameter 'endpont'"),
        ("s3://bucket-a?region=a&region=b", "'region' given twice"),
        ("s3://bucket-a?endpoint=localhost:9000", "must look like http://HOST:PORT"),
        ("s3://bucket-a?endpoint=http://h:99999", "invalid port"),
        ("s3://bucket-a?endpoint=http://h:9000/bucket", "must not carry a path"),
        ("s3://bucket-a?region=EU%20West", "invalid S3 region"),
    ],
)
def test_bad_urls_name_the_wrong_part(url: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_storage_url(url)
    assert says in str(info.value)
