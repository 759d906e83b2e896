import numpy as np
import pytest
import sleap_io as sio

from learning.formats.errors import FormatError
from learning.formats.pose_table import write_pose_table
from learning.formats.view_poses import read_view_poses

PARTS = ["nose", "neck", "tail"]


def _slp(path, frames: dict[int, tuple[str, np.ndarray, np.ndarray]]) -> None:
    skeleton = sio.Skeleton(list(PARTS), edges=[["nose", "neck"], ["neck", "tail"]])
    video = sio.Video(filename="D:/elsewhere/cam.mp4", open_backend=False)
    labeled = []
    for idx, (kind, xy, scores) in frames.items():
        if kind == "user":
            inst = sio.Instance.from_numpy(xy, skeleton=skeleton)
        else:
            inst = sio.PredictedInstance.from_numpy(xy, skeleton=skeleton, point_scores=scores,
                                                    score=float(scores.mean()))
        labeled.append(sio.LabeledFrame(video=video, frame_idx=idx, instances=[inst]))
    sio.save_slp(sio.Labels(labeled_frames=labeled, videos=[video], skeletons=[skeleton]),
                 str(path), verbose=False)


def test_sleap_predictions_and_user_points_without_the_video(tmp_path) -> None:
    xy = np.array([[10.0, 20], [30, 40], [np.nan, np.nan]])
    path = tmp_path / "cam.slp"
    _slp(path, {0: ("pred", xy, np.array([0.9, 0.5, 0.0])), 3: ("user", xy + 1, None)})
    poses = read_view_poses(path)
    assert poses.bodyparts == PARTS and poses.points.shape == (4, 3, 2)
    assert np.allclose(poses.points[0], xy, equal_nan=True)
    assert np.allclose(poses.scores[0], [0.9, 0.5, 0.0])
    assert np.isnan(poses.points[1:3]).all() and (poses.scores[1:3] == 0).all()
    assert np.allclose(poses.scores[3], [1, 1, 0])
    assert poses.edges == [("nose", "neck"), ("neck", "tail")]


def test_pose_tables_are_read(tmp_path) -> None:
    poses = np.random.default_rng(0).uniform(0, 1, (5, 3, 3))
    h5, csv = write_pose_table(tmp_path / "camDLC", "DLC_x", PARTS, poses)
    for path in (h5, csv):
        view = read_view_poses(path)
        assert view.bodyparts == PARTS
        assert np.allclose(view.points, poses[..., :2], atol=1e-6)
        assert np.allclose(view.scores, poses[..., 2], atol=1e-6)


def test_missing_and_broken_files(tmp_path) -> None:
    with pytest.raises(FormatError, match="file not found"):
        read_view_poses(tmp_path / "nope.slp")
    bad = tmp_path / "bad.slp"
    bad.write_bytes(b"garbage")
    with pytest.raises(FormatError, match="not a readable SLEAP file"):
        read_view_poses(bad)


def test_multi_animal_table_is_refused_unless_one_animal(tmp_path) -> None:
    poses = np.full((3, 2, 1, 3), 0.5)
    h5, _ = write_pose_table(tmp_path / "two", "S", ["nose"], poses, individuals=["a", "b"])
    with pytest.raises(FormatError, match="one animal, found individuals a, b"):
        read_view_poses(h5)
    h5, _ = write_pose_table(tmp_path / "one", "S", ["nose"], poses[:, :1], individuals=["a"])
    assert read_view_poses(h5).points.shape == (3, 1, 2)
