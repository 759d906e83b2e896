"""Publishing, finding, showing and deleting zoo entries; who may see and manage them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.access import PI_ONLY, has_role, visible_projects
from learning.engine.transfer import normalise_name
from learning.models import ModelVersion, VersionKind, VersionStatus
from learning.training.registry import is_multi_animal
from learning.zoo.models import Visibility, ZooEntry
from projects.models import Project
from projects.skeleton import skeleton_dict

User = AbstractBaseUser | AnonymousUser
PUBLISHABLE_KINDS = (VersionKind.STANDARD, VersionKind.STUDENT)


def visible_entries(user: User) -> QuerySet[ZooEntry]:
    """Site-wide entries, entries of the user's projects and their own (all for staff)."""
    entries = ZooEntry.objects.all()
    if not user.is_authenticated:
        return entries.none()
    if user.is_staff:
        return entries
    return entries.filter(
        Q(visibility=Visibility.SITE) | Q(published_by=user)
        | Q(projects__in=visible_projects(user))).distinct()


def get_visible(user: User, entry_id: int) -> ZooEntry:
    """The entry if the user may see it; Http404 otherwise (its existence is not revealed)."""
    entry = visible_entries(user).filter(pk=entry_id).first()
    if entry is None:
        raise Http404("No such zoo entry.")
    return entry


def filter_entries(entries: QuerySet[ZooEntry], *, q: str = "", species: str = "",
                   view: str = "", bodypart: str = "") -> list[ZooEntry]:
    """Entries whose name contains `q`, species/view contain the given text and that have a
    body part of that (normalised) name."""
    if q:
        entries = entries.filter(name__icontains=q.strip())
    if species:
        entries = entries.filter(species__icontains=species.strip())
    if view:
        entries = entries.filter(camera_view__icontains=view.strip())
    found = list(entries)
    if bodypart:
        key = normalise_name(bodypart)
        found = [e for e in found if key in {normalise_name(n) for n in e.bodyparts}]
    return found


def can_manage(user: User, entry: ZooEntry) -> bool:
    """Publisher or staff."""
    return user.is_authenticated and (user.is_staff or entry.published_by_id == user.pk)


def delete_entry(user: User, entry: ZooEntry) -> None:
    if not can_manage(user, entry):
        raise PermissionDenied("Only the publisher or staff may delete a zoo entry.")
    entry.checkpoint.delete(save=False)
    entry.delete()


def zoo_checkpoint_path(entry_id: int) -> str:
    """Local path of the entry's checkpoint file; LookupError if there is no such entry/file."""
    entry = ZooEntry.objects.filter(pk=entry_id).first()
    if entry is None or not entry.checkpoint:
        raise LookupError(f"no zoo entry {entry_id} with a checkpoint")
    try:
        return entry.checkpoint.path
    except NotImplementedError:
        raise LookupError(f"zoo entry {entry_id}'s checkpoint is not a local file") from None


def sha256_of(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _project_names(names: Iterable[str], pairs: list[list[str]]) -> list[list[str]]:
    keep = set(names)
    return [list(p) for p in pairs if p[0] in keep and p[1] in keep]


def _keypoint_names(version: ModelVersion) -> list[str]:
    from learning.engine.checkpoint import load_checkpoint

    with version.checkpoint.open("rb") as fh:
        names = load_checkpoint(fh).get("keypoint_names")  # type: ignore[arg-type]
    return list(names or version.project.bodypart_names())


def shared_projects(user: User, project_ids: Iterable[int], default: Project) -> list[Project]:
    ids = {int(i) for i in project_ids} or {default.pk}
    found = list(visible_projects(user).filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({"projects": "Share only with projects you are a member of."})
    return found


def publish(version: ModelVersion, user: User | None, *, name: str, species: str = "",
            camera_view: str = "", licence: str = "", notes: str = "",
            visibility: str = Visibility.SITE, project_ids: Iterable[int] = ()) -> ZooEntry:
    """Copy a ready model version into the zoo (PI of its project; user None: the command
    line, trusted)."""
    if user is not None and not has_role(user, version.project_id, PI_ONLY):
        raise PermissionDenied("Only a PI of the model's project may publish it.")
    if version.status != VersionStatus.READY or not version.checkpoint:
        raise ValidationError({"version": f"Model {version.iteration} is {version.status}; "
                                          "only ready models can be published."})
    if is_multi_animal(version):
        raise ValidationError({"version": "Multi-animal models cannot be published to the "
                                          "zoo yet."})
    if version.kind not in PUBLISHABLE_KINDS:
        raise ValidationError({"version": "Publish a model trained in this project (this one "
                                          "was adopted from another model)."})
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "A name of 1 to 120 characters is needed."})
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": f"One of {Visibility.values}."})
    shared = []
    if visibility == Visibility.PROJECTS:
        shared = (shared_projects(user, project_ids, version.project) if user is not None
                  else list(Project.objects.filter(pk__in=list(project_ids) or
                                                   [version.project_id])))
    names = _keypoint_names(version)
    skeleton = skeleton_dict(version.project)
    metrics = version.metrics or {}
    with transaction.atomic():
        entry = ZooEntry.objects.create(
            name=name, species=species[:80], camera_view=camera_view[:80], bodyparts=names,
            skeleton=_project_names(names, skeleton["edges"]),
            pairs=_project_names(names, skeleton["pairs"]),
            n_labels=int(metrics.get("n_labels") or len(version.label_snapshot.get("labels", []))),
            test_rmse_px=metrics.get("test_rmse_px"), notes=notes, licence=licence[:120],
            model_config=version.model_config, source_version=version,
            source=f"project {version.project.name}, model {version.iteration}",
            published_by=user if user is not None and user.is_authenticated else None,
            visibility=visibility)
        store_checkpoint(entry, version.checkpoint)
        entry.projects.set(shared)
    return entry


def store_checkpoint(entry: ZooEntry, source: Any) -> None:
    """Save the entry's own copy of a checkpoint file and its sha256 (entry must be saved)."""
    with source.open("rb") as fh:
        entry.checkpoint_sha256 = sha256_of(fh)
        fh.seek(0)
        entry.checkpoint.save("model.pt", File(fh), save=False)
    entry.save(update_fields=["checkpoint", "checkpoint_sha256"])
