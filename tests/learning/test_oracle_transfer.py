"""replay_oracle --init-from: every seed's round-0 model starts from another model's
checkpoint transferred onto the data's body parts by name."""

import json
import zipfile

import numpy as np
import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

import learning.selection.oracle as oracle
from learning.engine.checkpoint import save_checkpoint
from learning.engine.config import ModelConfig
from learning.engine.data import PoseSample
from learning.engine.network import PoseNet
from tests.learning.test_import_export import make_dlc_project

SOURCE = ModelConfig(num_keypoints=3, backbone="mobilenet_v3_small", head_channels=16,
                     pretrained=None)


@pytest.fixture
def source_ckpt(tmp_path) -> str:
    torch.manual_seed(0)
    path = str(tmp_path / "source.pt")
    save_checkpoint(path, PoseNet(SOURCE), SOURCE, ["Snout", "tail_base", "paw"])
    return path


def test_replay_starts_from_a_transferred_checkpoint(source_ckpt, tmp_path, capsys):
    project = make_dlc_project(tmp_path / "dlc", n=12, size=(64, 48))
    bundle = tmp_path / "entry.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(source_ckpt, "model.pt")
        zf.writestr("zoo.json", "{}")
    for init in (source_ckpt, str(bundle)):
        out = tmp_path / f"out-{init[-3:]}"
        call_command("replay_oracle", str(project), "--preset", "tiny", "--strategies",
                     "random", "--input-scale", "1.0", "--steps-per-round", "2",
                     "--init-from", init, "--out", str(out))
        printed = capsys.readouterr().out
        assert "matched {'snout': 'Snout', 'tailbase': 'tail_base'}" in printed
        result = json.loads(printed.strip().splitlines()[-1])
        assert result["transfer"] == {"copied_backbone": True,
                                      "matched": {"snout": "Snout", "tailbase": "tail_base"},
                                      "fresh": ["leftear", "rightear"]}
        summary = json.loads((out / "summary.json").read_text())
        assert summary["init_from"] == result["init_from"]
        assert summary["config"]["init_from"] == summary["init_from"]
        assert summary["transfer"]["fresh"] == ["leftear", "rightear"]
        assert len(summary["strategies"]["random"]["curve"]) == 2


def test_bad_init_from_is_refused(tmp_path):
    project = make_dlc_project(tmp_path / "dlc", n=6)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("zoo.json", "{}")
    for init, message in ((str(tmp_path / "missing.pt"), "no such file"),
                          (str(empty), "without model.pt")):
        with pytest.raises(CommandError, match=message):
            call_command("replay_oracle", str(project), "--preset", "tiny",
                         "--init-from", init, "--out", str(tmp_path / "out"))


@pytest.mark.django_db
def test_an_unknown_zoo_id_is_refused(tmp_path):
    project = make_dlc_project(tmp_path / "dlc", n=6)
    with pytest.raises(CommandError, match="zoo"):
        call_command("replay_oracle", str(project), "--preset", "tiny",
                     "--init-from", "987654", "--out", str(tmp_path / "out"))


@pytest.mark.parametrize(("warm_start", "from_source"), [
    ("previous", [True, False]), ("none", [True, True])])
def test_init_from_is_where_round_zero_trains_from(source_ckpt, monkeypatch, warm_start,
                                                   from_source):
    samples = [PoseSample.from_keypoints(f"f{i}.png", np.zeros((2, 2))) for i in range(30)]
    data = oracle.OracleData("toy", [s.image_path for s in samples], samples, ["PAW", "x"],
                             [(0, 1)], ())
    cfg = oracle.ReplayConfig(strategies=("random",), initial=4, batch=4, rounds=1,
                              steps_per_round=5, warm_start=warm_start, init_from=source_ckpt)
    state = oracle._Replay(data, cfg, "/nonexistent", lambda line: None)
    assert state.model_cfg.backbone == "mobilenet_v3_small"  # the checkpoint's network
    assert state.model_cfg.head_channels == 16
    assert state.transfer is not None and state.transfer.matched == {"PAW": "paw"}
    inits = []

    class Result:
        model, seconds = object(), 0.0

    def fake_train(samples, val, model_cfg, train_cfg, **kwargs):
        inits.append((kwargs["init_checkpoint"], kwargs["keypoint_names"]))
        return Result()

    monkeypatch.setattr(oracle, "train", fake_train)
    monkeypatch.setattr(state, "test_rmse", lambda model: 1.0)
    monkeypatch.setattr(state, "frame_errors", lambda model, rows: np.arange(len(rows)) + 1.0)
    state.run_seed(0)
    assert [init == source_ckpt for init, _ in inits] == from_source
    assert all(names == ["PAW", "x"] for _, names in inits)
