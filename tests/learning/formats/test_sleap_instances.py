"""Multi-animal SLEAP files: user and predicted instances, tracks, scores, videos found by name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from learning.formats.errors import FormatError
from learning.formats.pose import LabeledFrames

sio = pytest.importorskip("sleap_io")
from learning.formats.sleap import (  # noqa: E402
    read_slp_instances,
    write_slp,
    write_slp_predictions,
)

PARTS = ["head", "thorax", "tail"]
EDGES = [("head", "thorax"), ("thorax", "tail")]


def test_flies_pair_predictions(flies_pair: Path) -> None:
    contents = read_slp_instances(flies_pair / "centered_pair_predictions.slp")
    assert len(contents.frames) == 1100
    instances = [inst for frame in contents.frames for inst in frame.instances]
    assert len(instances) == 2274 and all(inst.predicted for inst in instances)
    assert len(contents.bodyparts) == 24 and contents.bodyparts[:2] == ["head", "neck"]
    assert len(contents.tracks) == 27
    assert {inst.track for inst in instances} <= set(contents.tracks)
    # The stored path is another machine's; the movie beside the .slp is found by name.
    assert contents.videos == [str((flies_pair / "centered_pair_low_quality.mp4").resolve())]
    assert sorted(frame.frame_idx for frame in contents.frames) == list(range(1100))
    assert Counter(len(frame.instances) for frame in contents.frames)[2] > 1000
    first = contents.frames[0].instances[0]
    assert first.points.shape == (24, 2) and first.point_scores is not None
    assert first.score is not None and first.score > 0
    present = ~np.isnan(first.points[:, 0])
    assert np.isnan(first.point_scores[~present]).all()
    assert (first.point_scores[present] >= 0).all()


def test_flies_pair_video_dir_without_the_video(flies_pair: Path, tmp_path: Path) -> None:
    with pytest.raises(FormatError) as info:
        read_slp_instances(flies_pair / "centered_pair_predictions.slp", video_dir=tmp_path)
    message = str(info.value)
    assert "'centered_pair_low_quality.mp4'" in message
    assert "tests/data/json_format_v1/centered_pair_low_quality.mp4" in message
    assert str(tmp_path / "centered_pair_low_quality.mp4") in message


@pytest.fixture
def tracked() -> np.ndarray:
    """(4 frames, 2 tracks, 3 keypoints, x/y/score); track "b" absent on frame 1, one point
    of "a" absent on frame 2."""
    rng = np.random.default_rng(2)
    out = np.concatenate(
        [rng.uniform(0, 200, size=(4, 2, 3, 2)), rng.uniform(0.1, 1, size=(4, 2, 3, 1))], axis=-1
    )
    out[1, 1] = np.nan
    out[2, 0, 1] = np.nan
    return out


def test_written_predictions_load_in_sleap_io(tracked: np.ndarray, tmp_path: Path) -> None:
    path = write_slp_predictions(
        tmp_path / "pred.slp", "/data/cage.mp4", PARTS, EDGES, tracked, ["a", "b"],
        frame_indices=[10, 11, 12, 20],
    )  # fmt: skip
    labels = sio.load_slp(str(path), open_videos=False)
    assert [t.name for t in labels.tracks] == ["a", "b"]
    assert labels.skeletons[0].node_names == PARTS
    assert labels.videos[0].filename == "/data/cage.mp4"
    assert [lf.frame_idx for lf in labels.labeled_frames] == [10, 11, 12, 20]
    assert [len(lf.predicted_instances) for lf in labels.labeled_frames] == [2, 1, 2, 2]
    for f, lf in enumerate(labels.labeled_frames):
        for inst in lf.predicted_instances:
            t = ["a", "b"].index(inst.track.name)
            data = inst.numpy(scores=True)
            np.testing.assert_allclose(data[:, :2], tracked[f, t, :, :2])
            present = ~np.isnan(tracked[f, t, :, 0])
            np.testing.assert_allclose(data[present, 2], tracked[f, t, present, 2], rtol=1e-6)
            assert inst.score == pytest.approx(tracked[f, t, present, 2].mean(), rel=1e-6)


def test_written_predictions_read_back(tracked: np.ndarray, tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "cam1.mp4").write_bytes(b"")  # found by name, never opened
    path = write_slp_predictions(
        tmp_path / "pred.slp", r"D:\lab\cam1.mp4", PARTS, EDGES, tracked, ["a", "b"]
    )
    # sleap-io stores the Windows path with forward slashes.
    with pytest.raises(FormatError, match=r"'cam1.mp4' \(stored as 'D:/lab/cam1.mp4'\)"):
        read_slp_instances(path)
    contents = read_slp_instances(path, video_dir=tmp_path / "videos")
    assert contents.videos == [str((tmp_path / "videos" / "cam1.mp4").resolve())]
    assert contents.tracks == ["a", "b"] and contents.skeleton == EDGES
    frame = contents.frames[2]
    assert [i.track for i in frame.instances] == ["a", "b"]
    array = contents.instances_array(frame)
    np.testing.assert_allclose(array[:, :, :2], tracked[2, :, :, :2])
    np.testing.assert_allclose(array[:, :, 2], tracked[2, :, :, 2], rtol=1e-6)
    assert read_slp_instances(path, require_videos=False).videos == ["D:/lab/cam1.mp4"]


def test_user_and_predicted_instances_are_told_apart(tmp_path: Path) -> None:
    skeleton = sio.Skeleton(list(PARTS), edges=[list(e) for e in EDGES])  # it edits the list
    video = sio.Video(filename=str(tmp_path / "v.mp4"), open_backend=False)
    (tmp_path / "v.mp4").write_bytes(b"")
    track = sio.Track(name="mouse")
    user = sio.Instance.from_numpy(
        np.array([[1.0, 2.0], [np.nan, np.nan], [5.0, 6.0]]), skeleton=skeleton, track=track
    )
    predicted = sio.PredictedInstance.from_numpy(
        np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]]), skeleton=skeleton,
        point_scores=np.array([0.9, 0.8, 0.7]), score=2.5,
    )  # fmt: skip
    frame = sio.LabeledFrame(video=video, frame_idx=7, instances=[user, predicted])
    labels = sio.Labels(labeled_frames=[frame], videos=[video], skeletons=[skeleton],
                        tracks=[track])  # fmt: skip
    sio.save_slp(labels, str(tmp_path / "mixed.slp"), verbose=False)
    contents = read_slp_instances(tmp_path / "mixed.slp")
    (got,) = contents.frames
    assert (got.video_index, got.frame_idx) == (0, 7)
    first, second = got.instances
    assert (first.predicted, first.track, first.score, first.point_scores) == (
        False, "mouse", None, None,
    )  # fmt: skip
    assert (second.predicted, second.track, second.score) == (True, "", 2.5)
    np.testing.assert_allclose(second.point_scores, [0.9, 0.8, 0.7], rtol=1e-6)
    users = contents.instances_array(got, predicted=False)
    assert users.shape == (1, 3, 3)
    np.testing.assert_array_equal(users[0, :, 2], [1.0, np.nan, 1.0])
    assert contents.instances_array(got, predicted=True).shape == (1, 3, 3)


def test_image_sequences_are_found_beside_the_slp(
    small_frames: LabeledFrames, tmp_path: Path
) -> None:
    path = write_slp(tmp_path / "labels.slp", small_frames)
    with pytest.raises(FormatError, match="'img000.png' .* not found"):
        read_slp_instances(path)
    for rel in small_frames.image_paths:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    contents = read_slp_instances(path)
    assert contents.videos == [
        [str((tmp_path / p).resolve()) for p in small_frames.image_paths[:2]],
        [str((tmp_path / p).resolve()) for p in small_frames.image_paths[2:]],
    ]
    assert [(f.video_index, f.frame_idx) for f in contents.frames] == [(0, 0), (0, 1), (1, 0),
                                                                       (1, 1)]  # fmt: skip
    assert not any(i.predicted for f in contents.frames for i in f.instances)


@pytest.mark.parametrize(
    ("shape", "frames", "message"),
    [((4, 3, 3, 3), None, r"\(frames, 2, 3, 3\)"), ((4, 2, 3, 2), None, r"\(frames, 2, 3, 3\)"),
     ((4, 2, 3, 3), [0, 1, 1, 2], "distinct"), ((4, 2, 3, 3), [0, 1, 2], "one distinct")],
)  # fmt: skip
def test_bad_predictions_are_refused(
    tmp_path: Path, shape: tuple[int, ...], frames: list[int] | None, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        write_slp_predictions(
            tmp_path / "x.slp", "v.mp4", PARTS, EDGES, np.ones(shape), ["a", "b"], frames
        )
