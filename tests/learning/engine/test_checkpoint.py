import os

import pytest
import torch

from learning.engine import checkpoint
from learning.engine.config import ModelConfig
from learning.engine.network import build_model

CFG = ModelConfig(num_keypoints=3, pretrained=None, head_channels=16)


def test_round_trip_gives_identical_outputs(tmp_path) -> None:
    model = build_model(CFG).eval()
    path = str(tmp_path / "model.pt")
    checkpoint.save_checkpoint(path, model, CFG, ["a", "b", "c"], {"epoch": 3})
    loaded, cfg = checkpoint.load_model(path)
    assert cfg == CFG
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0])
    raw = checkpoint.load_checkpoint(path)
    assert raw["keypoint_names"] == ["a", "b", "c"] and raw["meta"] == {"epoch": 3}


def test_save_is_atomic(tmp_path, monkeypatch) -> None:
    model = build_model(CFG)
    path = str(tmp_path / "model.pt")
    checkpoint.save_checkpoint(path, model, CFG, meta={"version": 1})
    real_save = torch.save

    def broken_save(obj, fh) -> None:
        real_save({"partial": True}, fh)
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(path, model, CFG, meta={"version": 2})
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(path)["meta"] == {"version": 1}
    assert os.listdir(tmp_path) == ["model.pt"]  # no temp file left behind
