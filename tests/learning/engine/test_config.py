import json

import pytest

from learning.engine.config import AugmentConfig, ModelConfig, TrainConfig


@pytest.mark.parametrize(
    ("cls", "data"),
    [
        (ModelConfig, {"num_keypoints": 4, "bogus": 1}),
        (AugmentConfig, {"flip_p": 0.5, "rotate": 10}),
        (TrainConfig, {"max_epochs": 3, "epochs": 3}),
        (TrainConfig, {"augment": {"nope": True}}),
    ],
)
def test_from_dict_rejects_unknown_keys(cls: type, data: dict) -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        cls.from_dict(data)


def test_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({"num_keypoints": 4, "bogus": 1})


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        ModelConfig(num_keypoints=4, backbone="vgg16")
    with pytest.raises(ValueError):
        TrainConfig(device="tpu")


def test_round_trip_through_json() -> None:
    augment = AugmentConfig(flip_pairs=((1, 2),), crop_size=(64, 96))
    cfg = TrainConfig(max_minutes=2.5, augment=augment)
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    model = ModelConfig(num_keypoints=3, backbone="mobilenet_v3_large")
    assert ModelConfig.from_dict(json.loads(json.dumps(model.to_dict()))) == model
