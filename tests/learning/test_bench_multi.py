"""`bench multi`: the checkable interface of the multi-animal benchmark, for both designs, and
re-measuring a saved model at another precision, with its diagnosis, without training."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from tests.learning.test_multi_animal import import_pair, pair_clip  # noqa: F401 (fixture)

KEYS = ("map_oks", "median_error_px", "id_switches", "fps_end_to_end", "n_train", "n_test")


def bench(*args: str) -> dict:
    out = io.StringIO()
    call_command("bench", "multi", "--project", "pair", "--train-frames", "0:40",
                 "--max-train", "12", "--test-frames", "40:60", "--test-animals", "2",
                 "--threads", "2", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.compute
@pytest.mark.django_db
@pytest.mark.parametrize("design", ["topdown", "bottomup"])
def test_bench_multi_prints_the_figures_last_and_remeasures_a_saved_model(
        design, pair_clip, tmp_path):  # noqa: F811
    import_pair(pair_clip, tmp_path)
    saved = tmp_path / "model.pt"
    result = bench("--design", design, "--minutes", "0.05", "--keep", str(saved))
    for key in KEYS:
        assert key in result, key
    assert result["design"] == design
    # every second frame is labeled; test frames are those of [40, 60) showing both animals
    assert result["n_train"] == 12 and 0 < result["n_test"] <= 10
    assert result["analysed_frames"] == 60 and result["fps_end_to_end"] > 0
    assert 0.0 <= result["map_oks"] <= 1.0
    assert saved.is_file()

    assert "diagnosis" not in result

    again = bench("--checkpoint", str(saved), "--precision", "float32", "--diagnose")
    assert again["design"] == design and again["precision"] == "float32"
    assert again["train_seconds"] is None and again["minutes"] is None
    assert again["n_test"] == result["n_test"]
    diagnosis = again["diagnosis"]
    # 20 labeled frames in [0, 40), 12 trained on: the others (with both animals) are held out
    assert 0 < diagnosis["held_out_in_train_range"]["frames"] <= 8
    by_gap = diagnosis["error_by_gap"]
    assert sum(b["frames"] for b in by_gap.values()) == (
        diagnosis["held_out_in_train_range"]["frames"] + again["n_test"])
    assert set(diagnosis["error_by_rotation"]) == {"0", "90", "180", "270"}
    assert set(diagnosis["error_by_label_shift"]) == {"-2", "-1", "0", "1", "2"}
    # the unturned test frames are the test set itself
    assert diagnosis["error_by_rotation"]["0"]["map_oks"] == again["map_oks"]
