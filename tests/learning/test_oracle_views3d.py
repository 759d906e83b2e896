"""The oracle replay on multi-camera data: whole moments go to the test set, and the views3d
strategy picks the views the model gets wrong in 3D, at moments spread in time."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import learning.selection.oracle as oracle
from learning.engine.data import PoseSample
from learning.geometry import synthetic
from learning.selection.oracle import OracleData, ReplayConfig, split_test

N = 30


def test_views_of_one_moment_stay_together_in_the_split():
    groups = [t for _ in range(3) for t in range(N)]
    pool, test = split_test(len(groups), 0.2, groups)
    assert len(test) == 3 * 6 and not set(pool) & set(test)
    assert {groups[r] for r in pool}.isdisjoint({groups[r] for r in test})


def _data():
    cams = synthetic.ring_rig(3, seed=3)
    pts = synthetic.render_points(cams, synthetic.walking_animal(N, seed=1))
    samples, groups, views = [], [], []
    for c in range(3):
        for t in range(N):
            samples.append(PoseSample.from_keypoints("unused.png", pts[c, t]))
            groups.append(t)
            views.append(c)
    names = [f"cam{v}/{t}" for v, t in zip(views, groups, strict=True)]
    return OracleData("rig", names, samples, list(synthetic.BODYPARTS), [], (), groups, views,
                      cams, 1.0), pts


def test_views3d_picks_the_views_the_model_gets_wrong(monkeypatch, tmp_path):
    data, pts = _data()
    state = oracle._Replay(data, ReplayConfig(strategies=("random", "views3d"), batch=2),
                           str(tmp_path), lambda m: None)
    pool_moments = sorted({data.groups[r] for r in state.pool})
    t1, t2 = pool_moments[2], pool_moments[-2]
    wrong = {(1, t1), (2, t2)}
    rng = np.random.default_rng(0)
    model_pts = pts + rng.normal(0, 0.5, pts.shape)
    for c, t in wrong:
        model_pts[c, t] += rng.normal(0, 25, model_pts[c, t].shape)
    monkeypatch.setattr(oracle._Replay, "image", lambda self, row: row)

    def fake_predict(model, cfg, rows, batch_size=8):
        rows = list(rows)
        xy = np.stack([model_pts[data.views[r], data.groups[r]] for r in rows])
        return np.concatenate([xy, np.ones((*xy.shape[:2], 1))], axis=-1)

    monkeypatch.setattr(oracle, "predict_images", fake_predict)
    model = SimpleNamespace(cfg=None)
    picked = state.select_views3d(model, [], list(state.pool), 2)
    assert {(data.views[r], data.groups[r]) for r in picked} == wrong
    # an already labeled view is not picked again: the other wrong view, then nothing wrong
    first = next(r for r in picked if (data.views[r], data.groups[r]) == (1, t1))
    again = state.select_views3d(model, [first], [r for r in state.pool if r != first], 2)
    assert {(data.views[r], data.groups[r]) for r in again} == {(2, t2)}


def test_views3d_needs_multicamera_data(tmp_path):
    with pytest.raises(ValueError, match="multi-camera"):
        oracle.load_data(tmp_path, ReplayConfig(strategies=("random", "views3d")), tmp_path)


def test_a_picked_view_is_recorded_with_its_camera(tmp_path):
    """Frame files are numbered alike in every camera's folder: the CSV keeps the folder."""
    data, _ = _data()
    state = oracle._Replay(data, ReplayConfig(strategies=("random",), batch=2), str(tmp_path),
                           lambda m: None)
    cam1 = data.names.index("cam1/4")
    cam2 = data.names.index("cam2/4")
    state.record("random", 0, 1, [cam1, cam2], 3.0, 1.0, 0.0, [cam1, cam2])
    assert state.rows[-1]["picked"] == "cam1/4;cam2/4"
