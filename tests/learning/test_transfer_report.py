"""transfer compare / transfer source: scratch vs transfer replays (issue 19, item 5)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from learning.engine.checkpoint import load_checkpoint
from learning.selection.transfer_report import compare, labels_to_reach, read_rows
from tests.learning.test_import_export import make_dlc_project


def _write_run(folder, curves, dataset="reaching", partial=False):
    """A fake replay_oracle output folder: curves = {seed: [rmse at 10, 20, 30… labels]}."""
    folder.mkdir(parents=True)
    rows = [{"dataset": dataset, "strategy": "random", "seed": seed, "round": rnd,
             "n_labels": 10 * (rnd + 1), "test_rmse_px": rmse}
            for seed, values in curves.items() for rnd, rmse in enumerate(values)]
    if partial:
        (folder / "results.partial.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows))
    else:
        lines = ["dataset,strategy,seed,round,n_labels,test_rmse_px"] + [
            ",".join(str(r[k]) for k in ("dataset", "strategy", "seed", "round", "n_labels",
                                         "test_rmse_px")) for r in rows]
        (folder / "results.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_labels_to_reach_interpolates_and_says_when_not_reached():
    points = [(10, 20.0, 0, 3), (20, 12.0, 0, 3), (30, 8.0, 0, 3), (40, 6.0, 0, 3)]
    assert labels_to_reach(points, 10.0) == pytest.approx(25.0)
    assert labels_to_reach(points, 25.0) == 10.0
    assert labels_to_reach(points, 5.0) is None


def test_compare_writes_one_plot_and_the_figures(tmp_path):
    scratch = _write_run(tmp_path / "scratch", {0: [30, 20, 12, 10], 1: [34, 24, 16, 12]})
    transfer = _write_run(tmp_path / "transfer", {0: [14, 10, 9, 8], 1: [18, 12, 9, 8]},
                          partial=True)
    plot = tmp_path / "img" / "transfer_reaching.png"
    figures = compare(scratch, transfer, plot)
    assert plot.is_file() and plot.stat().st_size > 1000
    assert figures["scratch_final_rmse_px"] == 11.0
    assert figures["scratch_rmse_px"][0] == [32.0, 2.0]  # mean, sd over the two seeds
    # transfer mean 16 at 10 labels, 11 at 20: reaches 11 px at 20 labels exactly
    assert figures["transfer_labels_to_scratch_final"] == 20.0
    assert figures["half_the_labels"] is True
    assert figures["scratch_labels_to_scratch_final"] == 40.0
    assert figures["seeds"] == ["0", "1"]


def test_only_seeds_complete_in_both_runs_are_compared(tmp_path):
    scratch = _write_run(tmp_path / "scratch", {0: [30, 20, 12, 10], 1: [34, 24, 16, 12]})
    transfer = _write_run(tmp_path / "transfer", {0: [14, 10, 9, 8]})
    figures = compare(scratch, transfer, tmp_path / "p.png")
    assert figures["seeds"] == ["0"]
    assert figures["scratch_final_rmse_px"] == 10.0


def test_compare_says_when_transfer_never_reaches_scratch(tmp_path):
    scratch = _write_run(tmp_path / "scratch", {0: [30, 20, 12, 5]})
    transfer = _write_run(tmp_path / "transfer", {0: [14, 10, 9, 8]})
    figures = compare(scratch, transfer, tmp_path / "p.png")
    assert figures["transfer_labels_to_scratch_final"] is None
    assert figures["half_the_labels"] is False


def test_incomplete_seeds_are_left_out_and_mismatches_refused(tmp_path):
    run = _write_run(tmp_path / "run", {0: [30, 20, 12, 10], 1: [34, 24]}, partial=True)
    assert {r["seed"] for r in read_rows(run)} == {0}
    other = _write_run(tmp_path / "other", {0: [30, 20, 12, 10]}, dataset="openfield")
    with pytest.raises(ValueError, match="different datasets"):
        compare(run, other, tmp_path / "p.png")
    with pytest.raises(CommandError, match="no results.csv"):
        call_command("transfer", "compare", str(run), str(tmp_path / "missing"),
                     "--plot", str(tmp_path / "p.png"))
    assert not (tmp_path / "p.png").exists()


def test_source_trains_on_every_label_and_names_its_parts(tmp_path, capsys):
    project = make_dlc_project(tmp_path / "dlc", n=12, size=(64, 48))
    out = tmp_path / "src.pt"
    call_command("transfer", "source", str(project), "--out", str(out), "--steps", "2",
                 "--input-scale", "1.0", "--backbone", "mobilenet_v3_small",
                 "--head-channels", "16", "--threads", "1")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["frames"] == 12 and result["steps"] == 2  # 12 // 8 = 1 step per epoch
    ckpt = load_checkpoint(str(out))
    assert ckpt["keypoint_names"] == result["keypoints"]
    assert ckpt["model_config"]["head_channels"] == 16


def test_the_arms_can_be_named_and_bad_names_are_refused(tmp_path, capsys, monkeypatch):
    from learning.selection import transfer_report

    base = _write_run(tmp_path / "base", {0: [30, 20, 12]})
    other = _write_run(tmp_path / "other", {0: [28, 24, 16]})
    legends = []
    real = transfer_report._plot
    monkeypatch.setattr(transfer_report, "_plot",
                        lambda *args: legends.append(args[-1]) or real(*args))
    call_command("transfer", "compare", str(base), str(other), "--plot",
                 str(tmp_path / "p.png"), "--names", "without, with temporal loss")
    assert legends == [("without", "with temporal loss")]
    assert json.loads(capsys.readouterr().out)["transfer_labels_to_scratch_final"] is None
    with pytest.raises(CommandError, match="two names"):
        call_command("transfer", "compare", str(base), str(other), "--plot",
                     str(tmp_path / "q.png"), "--names", "just one")
    assert not (tmp_path / "q.png").exists()
