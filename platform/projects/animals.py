"""How many animals a project's frames show, and whether they have names (issue 17)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from projects.models import Project


def parse_individuals(text: str) -> list[str]:
    """Names typed one per line (or comma-separated), blanks dropped."""
    return [n.strip() for line in text.splitlines() for n in line.split(",") if n.strip()]


def check_animals(project: Project | None, max_animals: int, individuals: list[str]) -> None:
    """ValidationError unless the settings fit: named individuals, one name per animal; a
    project with labels keeps its kind (single or multi-animal), since its labels are stored
    in that kind's shape."""
    if individuals and len(individuals) != max_animals:
        raise ValidationError({"individuals": (
            f"Name every animal or none: {len(individuals)} names for {max_animals} animals.")})
    if len(set(individuals)) != len(individuals):
        raise ValidationError({"individuals": "Individual names must be unique."})
    if project is not None and project.pk is not None \
            and (max_animals > 1) != project.multi_animal and project.labels.exists():
        raise ValidationError({"max_animals": (
            "This project has labels: it cannot switch between single- and multi-animal. "
            "Start a new project (or import the labels into one) instead.")})
