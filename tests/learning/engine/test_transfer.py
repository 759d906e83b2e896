import dataclasses

import numpy as np
import pytest
import torch

from learning.engine.checkpoint import load_checkpoint, save_checkpoint
from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig
from learning.engine.data import PoseSample
from learning.engine.network import HEATMAP_BIAS_INIT, PoseNet
from learning.engine.predict import predict_samples
from learning.engine.train import train
from learning.engine.transfer import (
    default_mapping,
    normalise_name,
    transfer_into,
    transferred_model,
)

SOURCE = ModelConfig(num_keypoints=3, input_scale=1.0, head_channels=16, pretrained=None)
SOURCE_NAMES = ["Snout", "left_ear", "Tail-Base"]
AUGMENT = AugmentConfig(rotation_deg=10.0, scale_range=(0.9, 1.1), blur_p=0.0)


def _ckpt(tmp_path, cfg=SOURCE, names=SOURCE_NAMES, seed=0) -> dict:
    torch.manual_seed(seed)
    model = PoseNet(cfg)
    for p in model.parameters():  # every weight distinct from a fresh init
        p.data.normal_()
    path = str(tmp_path / "source.pt")
    save_checkpoint(path, model, cfg, names)
    return load_checkpoint(path)


def test_name_normalisation_and_default_mapping() -> None:
    assert normalise_name("Left_Ear") == normalise_name("left ear") == normalise_name("LEFT-ear")
    assert normalise_name("leftear") != normalise_name("rightear")
    mapping = default_mapping(SOURCE_NAMES, ["tail base", "SNOUT", "paw"])
    assert mapping == {"tail base": "Tail-Base", "SNOUT": "Snout", "paw": None}


def test_names_match_across_naming_conventions() -> None:
    """DeepLabCut's openfield names against SLEAP's mouse skeleton: the side may be a word or
    a letter anywhere in the name, "snout" is "nose"; a different point stays unmatched."""
    dlc = ["snout", "leftear", "rightear", "tailbase"]
    sleap = ["Nose", "Ear_R", "Ear_L", "Tail_0", "TailTip", "Haunch_left"]
    assert default_mapping(dlc, sleap) == {"Nose": "snout", "Ear_R": "rightear",
                                           "Ear_L": "leftear", "Tail_0": None,
                                           "TailTip": None, "Haunch_left": None}
    assert normalise_name("earLeft") == normalise_name("L_ear") == normalise_name("leftear")
    assert normalise_name("front_left_paw") == normalise_name("left front paw")
    assert normalise_name("TailBase") == normalise_name("tail_base") == normalise_name("tailroot")
    # flies: legs named by side letter and number
    assert normalise_name("forelegL1") == normalise_name("foreleg_L_1")
    assert len({normalise_name(n) for n in ["forelegL1", "forelegR1", "midlegL1", "forelegL2"]}) \
        == 4
    assert normalise_name("rear") != normalise_name("ear_R")  # "r" counts only as a word


def test_matched_heads_copied_unmatched_fresh_backbone_equal(tmp_path) -> None:
    ckpt = _ckpt(tmp_path)
    state = ckpt["state_dict"]
    target_names = ["tailbase", "paw", "snout", "tongue"]
    cfg = dataclasses.replace(SOURCE, num_keypoints=4)
    model, report = transferred_model(ckpt, cfg, target_names)
    assert report.copied_backbone
    assert report.matched == {"tailbase": "Tail-Base", "snout": "Snout"}
    assert report.fresh == ["paw", "tongue"]
    own = model.state_dict()
    for key, value in state.items():
        if not key.startswith(("heatmap.", "locref.")):
            assert torch.equal(own[key], value), key
    heat_w, heat_b = own["heatmap.weight"], own["heatmap.bias"]
    loc_w, loc_b = own["locref.weight"], own["locref.bias"]
    for t, s in ((0, 2), (2, 0)):
        assert torch.equal(heat_w[t], state["heatmap.weight"][s])
        assert torch.equal(heat_b[t], state["heatmap.bias"][s])
        assert torch.equal(loc_w[2 * t:2 * t + 2], state["locref.weight"][2 * s:2 * s + 2])
        assert torch.equal(loc_b[2 * t:2 * t + 2], state["locref.bias"][2 * s:2 * s + 2])
    for t in (1, 3):  # fresh init: tiny weights, the "no keypoint" bias, zero locref bias
        assert heat_w[t].abs().max() < 0.01
        assert heat_b[t] == pytest.approx(HEATMAP_BIAS_INIT)
        assert torch.all(loc_b[2 * t:2 * t + 2] == 0)


def test_explicit_mapping_and_bad_mappings(tmp_path) -> None:
    ckpt = _ckpt(tmp_path)
    cfg = dataclasses.replace(SOURCE, num_keypoints=2)
    model, report = transferred_model(ckpt, cfg, ["nose", "ear"],
                                      {"nose": "Snout", "ear": None})
    assert report.matched == {"nose": "Snout"} and report.fresh == ["ear"]
    assert torch.equal(model.heatmap.weight[0], ckpt["state_dict"]["heatmap.weight"][0])
    with pytest.raises(ValueError, match="source model does not have.*'nose'"):
        transferred_model(ckpt, cfg, ["nose", "ear"], {"nose": "nose"})
    with pytest.raises(ValueError, match="target does not have"):
        transferred_model(ckpt, cfg, ["nose", "ear"], {"tail": "Snout"})
    with pytest.raises(ValueError, match="2 target names"):
        transfer_into(PoseNet(SOURCE), ckpt, ["nose", "ear"])


def test_different_network_is_refused(tmp_path) -> None:
    ckpt = _ckpt(tmp_path)
    for change in ({"head_channels": 32}, {"heatmap_stride": 8},
                   {"backbone": "mobilenet_v3_small"}):
        cfg = dataclasses.replace(SOURCE, **change)
        with pytest.raises(ValueError, match=f"cannot transfer.*{next(iter(change))}"):
            transferred_model(ckpt, cfg, SOURCE_NAMES)
    unnamed = {**ckpt, "keypoint_names": None}
    with pytest.raises(ValueError, match="keypoint_names"):
        transferred_model(unnamed, SOURCE, SOURCE_NAMES)


def _reordered(samples: list[PoseSample]) -> list[PoseSample]:
    """The same images labeled as a project with parts (C, A, new): C and A are the source's
    third and first discs, "new" (the second disc) has no counterpart in the source."""
    return [PoseSample.from_keypoints(s.image_path, s.keypoints[[2, 0, 1]]) for s in samples]


@pytest.mark.slow
def test_transferred_model_predicts_matched_parts(make_samples, tmp_path) -> None:
    train_cfg = TrainConfig(max_epochs=12, batch_size=4, lr=3e-3, num_threads=2,
                            val_fraction=0.0, augment=AUGMENT, ema_decay=0.0)
    source = train(make_samples(32, seed=1), None, SOURCE, train_cfg,
                   checkpoint_path=str(tmp_path / "src.pt"), keypoint_names=["A", "B", "C"])
    target_train = _reordered(make_samples(8, seed=3))
    test = _reordered(make_samples(8, seed=4))
    brief = dataclasses.replace(train_cfg, max_epochs=1)
    names = ["c", "a", "new"]
    warm = train(target_train, None, SOURCE, brief, init_checkpoint=source.checkpoint_path,
                 keypoint_names=names)
    cold = train(target_train, None, SOURCE, brief, keypoint_names=names)

    def errors(model) -> np.ndarray:
        pred, gt = predict_samples(model, SOURCE, test)
        return np.nanmean(np.linalg.norm(pred[..., :2] - gt, axis=-1), axis=0)

    warm_err, cold_err = errors(warm.model), errors(cold.model)
    assert warm_err[0] < 5.0 and warm_err[1] < 5.0, warm_err
    assert cold_err[:2].min() > 2 * warm_err[:2].max(), (warm_err, cold_err)


def test_training_from_checkpoint_with_other_keypoints_runs(make_samples, tmp_path) -> None:
    path = str(tmp_path / "source.pt")
    save_checkpoint(path, PoseNet(SOURCE), SOURCE, SOURCE_NAMES)
    target = dataclasses.replace(SOURCE, num_keypoints=2)
    samples = [PoseSample.from_keypoints(s.image_path, s.keypoints[:2])
               for s in make_samples(4)]
    quick = TrainConfig(max_epochs=1, batch_size=4, num_threads=2, augment=AUGMENT)
    result = train(samples, None, target, quick, init_checkpoint=path,
                   keypoint_names=["snout", "paw"])
    assert result.epochs == 1 and result.model.heatmap.out_channels == 2
    with pytest.raises(ValueError, match="source model does not have"):
        train(samples, None, target, quick, init_checkpoint=path,
              keypoint_names=["snout", "paw"], init_mapping={"paw": "hand"})
    # the same body parts load the checkpoint as it is (the architecture must match)
    same = train(make_samples(4), None, SOURCE, quick, init_checkpoint=path,
                 keypoint_names=SOURCE_NAMES)
    assert same.epochs == 1
