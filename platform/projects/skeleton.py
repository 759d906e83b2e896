"""Editing a project's skeleton without corrupting labels.

Labels refer to body parts by id: a rename keeps them, reordering keeps them. Removing a
body part deletes its points, so it must be asked for explicitly (`remove`); a body part that
is merely missing from an edit is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction

from projects.models import BodyPart, Project, SkeletonEdge

PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
    "#dcbeff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
)


class BodyPartSpec(TypedDict):
    name: str
    id: NotRequired[int]
    color: NotRequired[str]


class SkeletonSpec(TypedDict):
    bodyparts: list[BodyPartSpec]
    edges: NotRequired[list[list[str]]]
    pairs: NotRequired[list[list[str]]]
    remove: NotRequired[list[str]]


def skeleton_dict(project: Project) -> dict:
    """The skeleton as the API shows it: body parts in order, edges and pairs by name."""
    parts = list(project.bodyparts.all())
    by_id = {bp.pk: bp.name for bp in parts}
    pairs = []
    seen: set[int] = set()
    for bp in parts:
        if bp.mirror_id and bp.pk not in seen:
            pairs.append([bp.name, by_id[bp.mirror_id]])
            seen.update({bp.pk, bp.mirror_id})
    return {
        "bodyparts": [
            {"id": bp.pk, "name": bp.name, "color": bp.color, "order": bp.order} for bp in parts
        ],
        "edges": [[by_id[e.source_id], by_id[e.target_id]] for e in project.edges.all()],
        "pairs": pairs,
    }


def _check_names(specs: Sequence[BodyPartSpec]) -> list[str]:
    names = [str(s.get("name", "")).strip() for s in specs]
    if not names:
        raise ValidationError({"bodyparts": "A project needs at least one body part."})
    if any(not n for n in names):
        raise ValidationError({"bodyparts": "Body part names cannot be empty."})
    if len(set(names)) != len(names):
        raise ValidationError({"bodyparts": "Body part names must be unique."})
    return names


def _pairs_by_name(
    field: str, pairs: Sequence[Sequence[str]], names: set[str]
) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValidationError(
                {field: f"{' – '.join(pair)} is not a pair of two different body parts."}
            )
        unknown = [n for n in pair if n not in names]
        if unknown:
            raise ValidationError({field: f"Unknown body part(s): {', '.join(unknown)}."})
        out.append((pair[0], pair[1]))
    return out


def set_skeleton(project: Project, spec: SkeletonSpec) -> None:
    """Replace body parts (keeping ids), edges and left/right pairs in one transaction.

    Locks the project row (select_for_update) so two PIs editing at once serialize.
    """
    specs = spec["bodyparts"]
    names = _check_names(specs)
    edges = _pairs_by_name("edges", spec.get("edges", []), set(names))
    seen_edges: set[frozenset[str]] = set()
    for a, b in edges:
        if frozenset((a, b)) in seen_edges:
            raise ValidationError({"edges": f"The edge {a}–{b} is listed twice."})
        seen_edges.add(frozenset((a, b)))
    pairs = _pairs_by_name("pairs", spec.get("pairs", []), set(names))
    in_pairs = [n for p in pairs for n in p]
    if len(set(in_pairs)) != len(in_pairs):
        raise ValidationError({"pairs": "A body part can be in one left/right pair only."})
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        existing = {bp.pk: bp for bp in project.bodyparts.all()}
        kept_ids = {int(s["id"]) for s in specs if s.get("id") is not None}
        unknown_ids = kept_ids - existing.keys()
        if unknown_ids:
            raise ValidationError({"bodyparts": f"Unknown body part id(s): {sorted(unknown_ids)}."})
        dropped = {pk: bp for pk, bp in existing.items() if pk not in kept_ids}
        remove = set(spec.get("remove", []))
        missing = sorted(bp.name for bp in dropped.values() if bp.name not in remove)
        if missing:
            raise ValidationError(
                {
                    "remove": (
                        f"Body part(s) {', '.join(missing)} are missing from the edit. "
                        "Removing a body "
                        "part deletes its labels: list it in 'remove' to confirm."
                    )
                }
            )
        SkeletonEdge.objects.filter(project=project).delete()
        BodyPart.objects.filter(project=project).update(mirror=None)
        BodyPart.objects.filter(pk__in=dropped).delete()
        # Free the names first so that swaps (a→b, b→a) pass the unique constraint.
        for pk in kept_ids:
            BodyPart.objects.filter(pk=pk).update(name=f"__renaming_{pk}")
        by_name: dict[str, BodyPart] = {}
        for order, (s, name) in enumerate(zip(specs, names, strict=True)):
            color = s.get("color") or PALETTE[order % len(PALETTE)]
            if s.get("id") is not None:
                bp = existing[int(s["id"])]
                bp.name, bp.order, bp.color = name, order, color
                bp.save(update_fields=["name", "order", "color"])
            else:
                bp = BodyPart.objects.create(project=project, name=name, order=order, color=color)
            by_name[name] = bp
        for a, b in pairs:
            BodyPart.objects.filter(pk=by_name[a].pk).update(mirror=by_name[b])
            BodyPart.objects.filter(pk=by_name[b].pk).update(mirror=by_name[a])
        SkeletonEdge.objects.bulk_create(
            SkeletonEdge(project=project, source=by_name[a], target=by_name[b]) for a, b in edges
        )
