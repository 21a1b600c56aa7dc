"""`/api/v1/encoding-profiles`: the seeded default ladder, creation and validation, visibility."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server, upload_file
from vsrc.media.ladder import DEFAULT_PROFILE, X264_PRESETS, Profile


def test_default_profile_is_design_ladder(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        body = client.get("/api/v1/encoding-profiles").json()
    default = next(p for p in body["data"] if p["isDefault"])
    assert [(r["height"], r["videoBitrate"]) for r in default["rungs"]] == [
        (2160, 12_000_000),
        (1440, 8_000_000),
        (1080, 5_000_000),
        (720, 2_800_000),
        (480, 1_400_000),
        (360, 800_000),
        (240, 400_000),
    ]
    assert (default["audioBitrate"], default["preset"], default["segmentSeconds"]) == (128_000, "veryfast", 4)
    assert default["builtIn"] is True


def test_create_and_see_only_own_profiles(server: Server, clips: dict[str, Path]) -> None:
    write, read = server.account_keys()
    other_write, other_read = server.account_keys()
    with server.client(write) as client:
        resp = client.post(
            "/api/v1/encoding-profiles",
            json={
                "name": "mobile",
                "rungs": [
                    {"height": 360, "videoBitrate": 700_000},
                    {"height": 720, "videoBitrate": 2_000_000},
                ],
            },
        )
    assert resp.status_code == 201, resp.text
    created = resp.json()["data"]
    assert [r["name"] for r in created["rungs"]] == ["720p", "360p"]
    assert created["rungs"][0]["maxrate"] >= 2_000_000 and created["isDefault"] is False
    with server.client(read) as client:
        assert created["id"] in [p["id"] for p in client.get("/api/v1/encoding-profiles").json()["data"]]
    with server.client(other_read) as client:
        assert created["id"] not in [p["id"] for p in client.get("/api/v1/encoding-profiles").json()["data"]]
    # Another account cannot encode with it; the owner can.
    with server.client(other_write) as client:
        resp = client.post(
            "/api/v1/media/upload",
            data={"title": "x", "encodingProfileId": str(created["id"])},
            files={"file": ("c.mp4", clips["mp4"].read_bytes())},
        )
        assert resp.status_code == 404, resp.text  # another account's profile is unknown here
    upload_file(server, write, clips["mp4"], encodingProfileId=str(created["id"]))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "rungs": [{"height": 360, "videoBitrate": 800_000}]}, "name"),
        ({"name": "x", "rungs": []}, "rungs"),
        ({"name": "x", "rungs": [{"height": 361, "videoBitrate": 800_000}]}, "rungs.0.height"),
        ({"name": "x", "rungs": [{"height": 8640, "videoBitrate": 800_000}]}, "rungs.0.height"),
        ({"name": "x", "rungs": [{"height": 360, "videoBitrate": 10}]}, "rungs.0.videoBitrate"),
        ({"name": "x", "rungs": [{"height": 360, "videoBitrate": 800_000}] * 2}, "rungs"),
        ({"name": "x", "rungs": [{"height": 360, "videoBitrate": 800_000}], "preset": "warp"}, "preset"),
        (
            {"name": "x", "rungs": [{"height": 360, "videoBitrate": 800_000}], "segmentSeconds": 3},
            "segmentSeconds",
        ),
        (
            {"name": "x", "rungs": [{"height": 360, "videoBitrate": 800_000}], "audioBitrate": 1},
            "audioBitrate",
        ),
        ({"name": "x", "rungs": [{"height": "tall", "videoBitrate": 800_000}]}, "rungs.0.height"),
    ],
)
def test_profile_validation(server: Server, body: dict, field: str) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post("/api/v1/encoding-profiles", json=body)
    assert resp.status_code == 400, resp.text
    assert field in [e["field"] for e in resp.json()["errors"]]


def test_read_key_cannot_create_profiles(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        resp = client.post("/api/v1/encoding-profiles", json={"name": "x", "rungs": []})
    assert resp.status_code == 403


def test_the_api_and_the_ladder_allow_the_same_presets(server: Server) -> None:
    """One list: every preset the API document offers is one the ladder encodes with, and the other
    way round; placebo is in neither (it would spend an encode's time limit for no visible gain)."""
    with server.client() as client:
        document = client.get("/openapi.json").json()
    preset = document["components"]["schemas"]["ProfileCreate"]["properties"]["preset"]
    offered = (
        preset.get("enum") or document["components"]["schemas"][preset["$ref"].rsplit("/", 1)[1]]["enum"]
    )
    assert tuple(offered) == X264_PRESETS
    for name in offered:
        Profile(rungs=DEFAULT_PROFILE.rungs, preset=name)
    with pytest.raises(ValueError, match="preset"):
        Profile(rungs=DEFAULT_PROFILE.rungs, preset="placebo")
    write, _ = server.account_keys()
    rungs = [{"height": 360, "videoBitrate": 800_000}]
    with server.client(write) as client:
        refused = client.post(
            "/api/v1/encoding-profiles", json={"name": "p", "rungs": rungs, "preset": "placebo"}
        )
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "preset", refused.text
        slowest = client.post(
            "/api/v1/encoding-profiles", json={"name": "s", "rungs": rungs, "preset": "veryslow"}
        )
        assert slowest.status_code == 201, slowest.text
