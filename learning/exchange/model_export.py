"""A model version as a self-contained bundle for use outside PoseLoop (zip).

Contents: ``model.onnx`` (ONNX Runtime and friends), ``model.torchscript.pt`` (``torch.jit.load``),
``poseloop_model.json`` (body parts, skeleton, input scale, normalisation, output decoding) and a
short ``README.md``. The zip is built once per version and kept in private media storage under
``projects/<pid>/models/<version id>/export/``; it is only served through access-checked views.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any, TypedDict

from django.core.files import File
from django.core.files.storage import default_storage

from learning.engine.config import ModelConfig
from learning.engine.data import SIZE_MULTIPLE
from learning.engine.export import INPUT_NAME, export_onnx, export_torchscript, output_names
from learning.engine.network import IMAGENET_MEAN, IMAGENET_STD, PoseNet
from learning.models import ModelVersion, VersionStatus
from learning.training.registry import is_multi_animal, loaded_model
from projects.skeleton import skeleton_dict

BUNDLE_FORMAT = "poseloop-model-bundle/1"
ONNX_NAME = "model.onnx"
TORCHSCRIPT_NAME = "model.torchscript.pt"
META_NAME = "poseloop_model.json"


class BundleMeta(TypedDict):
    format: str
    project: str
    iteration: int
    kind: str
    teacher_iteration: int | None
    bodyparts: list[str]
    colors: list[str]
    skeleton: list[list[str]]
    left_right_pairs: list[list[str]]
    input: dict[str, Any]
    outputs: dict[str, Any]
    decoding: dict[str, Any]
    model_config: dict[str, Any]
    metrics: dict[str, Any]


def bundle_meta(version: ModelVersion, cfg: ModelConfig) -> BundleMeta:
    """What a user needs to run the exported graphs and read their outputs."""
    skeleton = skeleton_dict(version.project)
    return {
        "format": BUNDLE_FORMAT,
        "project": version.project.name,
        "iteration": version.iteration,
        # "student": a fast model distilled from model `teacher_iteration` (issue 20).
        "kind": version.kind,
        "teacher_iteration": version.teacher.iteration if version.teacher_id else None,
        "bodyparts": [bp["name"] for bp in skeleton["bodyparts"]],
        "colors": [bp["color"] for bp in skeleton["bodyparts"]],
        "skeleton": skeleton["edges"],
        "left_right_pairs": skeleton["pairs"],
        "input": {
            "name": INPUT_NAME,
            "layout": "NCHW",
            "dtype": "float32",
            "channels": "RGB",
            "range": [0.0, 1.0],
            "input_scale": cfg.input_scale,
            "size_multiple": SIZE_MULTIPLE,
            "padding": "zeros at the bottom and right, up to a multiple of size_multiple",
            "normalisation": {
                "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                "applied": "inside the graph: (x - mean) / std",
            },
        },
        "outputs": {
            "heatmaps": "float32 (N, K, H/stride, W/stride): probabilities (sigmoid applied)",
            **({"locref": "float32 (N, K, 2, H/stride, W/stride): (dx, dy) offsets / "
                          "locref_scale_px"} if cfg.locref else {}),
            "order": output_names(cfg),
        },
        "decoding": {
            "heatmap_stride": cfg.heatmap_stride,
            "locref_scale_px": cfg.locref_scale_px,
            "cell_center": "cell (i, j) of a heatmap is the network-input point "
                           "(x = j * stride + (stride - 1) / 2, y = i * stride + (stride - 1) / 2)",
            "to_original": "x_orig = (x_net + 0.5) / sx - 0.5 with sx = resized width / width",
            "animal_radius_px": cfg.animal_radius_px,
            "animal_prior": "when animal_radius_px is set: take each peak among the cells within "
                            "animal_radius_px (network px) of the median of the unrestricted "
                            "peaks (one animal: a far-off false peak cannot win)",
        },
        "model_config": cfg.to_dict(),
        "metrics": dict(version.metrics or {}),
    }


README = """# PoseLoop model bundle: {project}, model {iteration}

Body parts: {bodyparts}.

- `model.onnx`: `onnxruntime.InferenceSession("model.onnx").run(None, {{"images": x}})`
- `model.torchscript.pt`: `torch.jit.load("model.torchscript.pt")(x)`

`x` is float32 (N, 3, H, W), RGB in [0, 1]: resize each frame by `input.input_scale`
(OpenCV INTER_AREA when shrinking), pad with zeros to multiples of 32. Normalisation and the
sigmoid are inside the graphs. Outputs: `heatmaps` (N, K, h, w) probabilities and `locref`
offsets (N, K, 2, h, w). For each body part take the heatmap's peak cell, its centre
`(j * s + (s - 1) / 2, i * s + (s - 1) / 2)` with `s = heatmap_stride`, add
`locref * locref_scale_px`, and map back to the frame with `(x + 0.5) / sx - 0.5`.
The peak value is the likelihood. When `decoding.animal_radius_px` is set, PoseLoop first
takes the median of those peaks and then each part's peak only among cells within that many
network pixels of it (a single animal's parts lie together). All numbers are in
`poseloop_model.json`.
"""


def write_bundle(model: PoseNet, cfg: ModelConfig, meta: BundleMeta, zip_path: Path) -> Path:
    """Export the graphs and write the zip at `zip_path` (via a temporary name)."""
    with tempfile.TemporaryDirectory(prefix="poseloop-bundle-") as tmp:
        folder = Path(tmp)
        export_onnx(model, cfg, str(folder / ONNX_NAME))
        export_torchscript(model, cfg, str(folder / TORCHSCRIPT_NAME))
        (folder / META_NAME).write_text(json.dumps(meta, indent=1))
        readme = README.format(project=meta["project"], iteration=meta["iteration"],
                               bodyparts=", ".join(meta["bodyparts"]))
        (folder / "README.md").write_text(readme)
        partial = zip_path.with_name(f".{zip_path.name}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in (META_NAME, "README.md", ONNX_NAME, TORCHSCRIPT_NAME):
                zf.write(folder / name, arcname=name)
        partial.replace(zip_path)
    return zip_path


MULTI_README = """# PoseLoop multi-animal model: {project}, model {iteration}

`model.pt` holds both networks of a {design} model (torch.load(..., weights_only=True): a dict
with "kind", "config", "keypoint_names" and each network's weights); `poseloop_model.json` names the
body parts, skeleton and animals. With PoseLoop installed:

    from learning.engine.multi.checkpoint import load_predictor
    animals = load_predictor("model.pt").predict([rgb_image])[0]  # (n, K, 3): x, y, confidence

Then link animals across frames with learning.engine.multi.tracking.track.
"""


def write_multi_bundle(version: ModelVersion, zip_path: Path) -> Path:
    """A multi-animal version's zip: its checkpoint, a JSON description and a README (its two
    networks and their decoding are not one graph, so there is no ONNX file yet)."""
    project = version.project
    meta = {"format": "poseloop-multi/1", "project": project.name,
            "iteration": version.iteration, "design": version.model_config.get("design"),
            "bodyparts": project.bodypart_names(),
            "skeleton": [[e.source.name, e.target.name]
                         for e in project.edges.select_related("source", "target")],
            "max_animals": project.max_animals, "individuals": project.individuals,
            "config": version.model_config, "metrics": {
                k: version.metrics.get(k) for k in ("test_map_oks", "test_rmse_px",
                                                    "test_median_px", "n_train", "n_test")}}
    partial = zip_path.with_name(f".{zip_path.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf, \
            version.checkpoint.open("rb") as ckpt:
        zf.writestr("model.pt", ckpt.read())
        zf.writestr(META_NAME, json.dumps(meta, indent=1))
        zf.writestr("README.md", MULTI_README.format(project=project.name,
                                                     iteration=version.iteration,
                                                     design=meta["design"]))
    partial.replace(zip_path)
    return zip_path


def bundle_name(version: ModelVersion) -> str:
    safe = "".join(c for c in version.project.name if c.isalnum()) or str(version.project_id)
    return f"poseloop-{safe}-model{version.iteration}.zip"


def export_bundle(version: ModelVersion, *, rebuild: bool = False) -> str:
    """Storage name of the version's bundle zip, built on first use. Only ready versions."""
    if version.status != VersionStatus.READY or not version.checkpoint:
        raise ValueError(f"model {version.iteration} is not ready")
    name = f"projects/{version.project_id}/models/{version.pk}/export/{bundle_name(version)}"
    if default_storage.exists(name):
        if not rebuild:
            return name
        default_storage.delete(name)
    if is_multi_animal(version):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_multi_bundle(version, Path(tmp) / bundle_name(version))
            with path.open("rb") as fh:
                return default_storage.save(name, File(fh))
    model, cfg = loaded_model(version)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_bundle(model, cfg, bundle_meta(version, cfg), Path(tmp) / bundle_name(version))
        with path.open("rb") as fh:
            saved = default_storage.save(name, File(fh))
    return saved
