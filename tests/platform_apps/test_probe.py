"""probe_video accepts good videos and refuses every kind of bad file, saying why."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from tests.videofactory import (
    make_video,
    write_empty,
    write_overwritten,
    write_png_as_video,
    write_random_bytes,
    write_text,
    write_truncated,
    write_zero_frames,
)
from videos.probe import (
    VideoInfo,
    VideoProbeError,
    probe_positions,
    probe_video,
    sha256_file,
    validate_info,
)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("probe"), n_frames=120, width=160, height=120)


def test_good_video(good):
    info = probe_video(good.path)
    assert info == VideoInfo(
        fps=30.0, frame_count=120, width=160, height=120, codec=info.codec, duration_s=4.0
    )
    assert info.codec in {"FMP4", "mp4v"}


def test_good_video_with_probes_only(good):
    assert probe_video(good.path, full_decode_max_pixels=0).frame_count == 120


def test_probe_positions_cover_both_ends():
    assert probe_positions(120, 4) == [0, 24, 48, 71, 95, 119]
    assert probe_positions(1) == [0]
    assert probe_positions(3, 16) == [0, 1, 2]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (write_empty, "empty"),
        (write_text, "cannot be opened"),
        (write_random_bytes, "cannot be opened"),
        (write_png_as_video, "PNG image"),
        (write_zero_frames, "cannot be opened|has no"),
    ],
)
def test_refuses_non_videos(tmp_path, make, message):
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(VideoProbeError, match=message):
        probe_video(path)


def test_refuses_missing_file(tmp_path):
    with pytest.raises(VideoProbeError, match="does not exist"):
        probe_video(tmp_path / "nothing.mp4")


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_refuses_truncated(good, tmp_path, fraction):
    path = write_truncated(good.path, tmp_path / "cut.mp4", fraction)
    with pytest.raises(VideoProbeError, match="truncated"):
        probe_video(path)


@pytest.mark.parametrize(("centre", "fraction"), [(0.5, 0.2), (0.5, 0.02), (0.3, 0.05)])
def test_refuses_overwritten_middle(good, tmp_path, centre, fraction):
    path = write_overwritten(good.path, tmp_path / "hole.mp4", centre, fraction)
    with pytest.raises(VideoProbeError, match="corrupt"):
        probe_video(path)


def test_probes_alone_catch_a_large_hole(good, tmp_path):
    path = write_overwritten(good.path, tmp_path / "hole.mp4", 0.5, 0.2)
    with pytest.raises(VideoProbeError, match="cannot be decoded"):
        probe_video(path, full_decode_max_pixels=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frame_count": 0}, "no frames"),
        ({"fps": 0.0}, "invalid frame rate"),
        ({"fps": -30.0}, "invalid frame rate"),
        ({"fps": float("nan")}, "invalid frame rate"),
        ({"fps": 90000.0}, "absurd frame rate"),
        ({"width": 0}, "frame size"),
        ({"height": 0}, "frame size"),
    ],
)
def test_validate_info_refuses_implausible_headers(change, message):
    info = VideoInfo(fps=30.0, frame_count=10, width=64, height=48, codec="FMP4", duration_s=1)
    validate_info(info)
    with pytest.raises(VideoProbeError, match=message):
        validate_info(replace(info, **change))


def test_probe_error_is_a_value_error():
    assert issubclass(VideoProbeError, ValueError)


def test_sha256_matches_hashlib(good, tmp_path):
    data = good.path.read_bytes()
    assert sha256_file(good.path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(good.path, chunk=1000) == hashlib.sha256(data).hexdigest()
    empty = write_empty(tmp_path / "empty")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()
