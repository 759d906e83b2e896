"""Zoo bundles: one zip holding `model.pt` (the engine checkpoint) and `zoo.json` (metadata,
the sha256 of model.pt and the format version), so labs share models by file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction

from accounts.access import PI_ONLY, visible_projects
from accounts.models import Membership
from learning.zoo.entries import sha256_of, shared_projects
from learning.zoo.models import Visibility, ZooEntry

FORMAT = "poseloop-zoo/1"
MAX_BUNDLE_BYTES = 1 << 30  # 1 GiB: the largest backbone's checkpoint is ~100 MB
MAX_JSON_BYTES = 1 << 20
META_KEYS = ("name", "species", "camera_view", "bodyparts", "skeleton", "pairs", "n_labels",
             "test_rmse_px", "notes", "licence", "model_config", "source")

User = AbstractBaseUser | AnonymousUser


def metadata(entry: ZooEntry) -> dict[str, Any]:
    """What zoo.json holds."""
    meta = {key: getattr(entry, key) for key in META_KEYS}
    return {"format": FORMAT, **meta, "sha256": entry.checkpoint_sha256}


def write_bundle(entry: ZooEntry, out: IO[bytes]) -> None:
    """Write the entry's bundle (a zip) to a binary file object."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("zoo.json", json.dumps(metadata(entry), indent=2))
        with entry.checkpoint.open("rb") as src, zf.open("model.pt", "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def bundle_filename(entry: ZooEntry) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in entry.name)[:60]
    return f"zoo-{entry.pk}-{safe or 'model'}.zip"


def _bad(message: str) -> ValidationError:
    return ValidationError({"bundle": message})


def _read_meta(zf: zipfile.ZipFile) -> dict[str, Any]:
    names = set(zf.namelist())
    if not {"zoo.json", "model.pt"} <= names:
        raise _bad("The bundle must hold zoo.json and model.pt.")
    info = zf.getinfo("zoo.json")
    if info.file_size > MAX_JSON_BYTES:
        raise _bad("zoo.json is too large.")
    if zf.getinfo("model.pt").file_size > MAX_BUNDLE_BYTES:
        raise _bad("model.pt is too large.")
    try:
        meta = json.loads(zf.read("zoo.json").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"zoo.json is not valid JSON ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(f"zoo.json: format must be {FORMAT!r}.")
    missing = [k for k in ("name", "bodyparts", "model_config", "sha256") if not meta.get(k)]
    if missing:
        raise _bad(f"zoo.json lacks {missing}.")
    parts = meta["bodyparts"]
    if not isinstance(parts, list) or not all(isinstance(p, str) and p for p in parts):
        raise _bad("zoo.json: bodyparts must be a list of names.")
    return meta


def _check_checkpoint(path: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's model config, after checking it loads and names zoo.json's parts."""
    from learning.engine.checkpoint import load_checkpoint, model_from_checkpoint

    try:
        ckpt = load_checkpoint(path)
        model_from_checkpoint(ckpt)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a usable checkpoint"
        raise _bad(f"model.pt is not a PoseLoop engine checkpoint ({type(exc).__name__}).") \
            from None
    if list(ckpt.get("keypoint_names") or []) != list(meta["bodyparts"]):
        raise _bad("model.pt's body parts differ from zoo.json's.")
    return dict(ckpt["model_config"])


def _text(meta: dict[str, Any], key: str, limit: int) -> str:
    value = meta.get(key) or ""
    if not isinstance(value, str):
        raise _bad(f"zoo.json: {key} must be text.")
    return value[:limit]


def _pairs(meta: dict[str, Any], key: str) -> list[list[str]]:
    value = meta.get(key) or []
    parts = set(meta["bodyparts"])
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and set(p) <= parts for p in value):
        raise _bad(f"zoo.json: {key} must be [name, name] pairs of its body parts.")
    return value


def may_import(user: User) -> bool:
    """PIs of some project (and staff) may import bundles."""
    return user.is_authenticated and (
        user.is_staff or Membership.objects.filter(user=user, role__in=PI_ONLY,
                                                   project__deleted_at__isnull=True).exists())


def import_bundle(fh: IO[bytes], user: User | None, *, visibility: str = Visibility.SITE,
                  project_ids: Iterable[int] = ()) -> ZooEntry:
    """Validate a bundle (zip, json, hash, checkpoint loads, sizes) and add it to the zoo.

    ValidationError (nothing created) for anything wrong. user None: the command line."""
    if user is not None and not may_import(user):
        raise PermissionDenied("Only PIs may import zoo bundles.")
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": f"One of {Visibility.values}."})
    fh.seek(0, os.SEEK_END)
    if fh.tell() > MAX_BUNDLE_BYTES:
        raise _bad("The bundle is too large.")
    fh.seek(0)
    if not zipfile.is_zipfile(fh):
        raise _bad("Not a zip file.")
    fh.seek(0)
    with tempfile.TemporaryDirectory(prefix="poseloop-zoo-") as tmp:
        try:
            with zipfile.ZipFile(fh) as zf:
                meta = _read_meta(zf)
                path = os.path.join(tmp, "model.pt")
                with zf.open("model.pt") as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError) as exc:
            raise _bad(f"The zip cannot be read ({exc}).") from None
        with open(path, "rb") as ckpt:
            if sha256_of(ckpt) != meta["sha256"]:
                raise _bad("model.pt does not match the sha256 in zoo.json (corrupted file?).")
        model_config = _check_checkpoint(path, meta)
        rmse = meta.get("test_rmse_px")
        n_labels = meta.get("n_labels") or 0
        if not isinstance(n_labels, int) or (
                rmse is not None and not isinstance(rmse, int | float)):
            raise _bad("zoo.json: n_labels must be an integer, test_rmse_px a number.")
        shared = []
        if visibility == Visibility.PROJECTS and user is not None:
            default = visible_projects(user).first()
            if default is None:
                raise ValidationError({"projects": "Name a project to share with."})
            shared = shared_projects(user, project_ids, default)
        with transaction.atomic():
            entry = ZooEntry.objects.create(
                name=_text(meta, "name", 120), species=_text(meta, "species", 80),
                camera_view=_text(meta, "camera_view", 80), bodyparts=meta["bodyparts"],
                skeleton=_pairs(meta, "skeleton"), pairs=_pairs(meta, "pairs"),
                n_labels=max(0, n_labels), test_rmse_px=rmse, notes=_text(meta, "notes", 10000),
                licence=_text(meta, "licence", 120), model_config=model_config,
                source=("imported: " + _text(meta, "source", 250)).strip(": "),
                published_by=user if user is not None and user.is_authenticated else None,
                visibility=visibility, checkpoint_sha256=meta["sha256"])
            with open(path, "rb") as ckpt:
                entry.checkpoint.save("model.pt", File(ckpt), save=True)
            entry.projects.set(shared)
    return entry
