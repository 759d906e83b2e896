"""Forms of the project pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Role
from learning.engine.uncertainty import DEFAULT_WEIGHTS, SCORE_DESCRIPTIONS
from projects.animals import check_animals, parse_individuals
from projects.models import Project
from projects.serializers import LOOP_FIELDS
from projects.skeleton import SkeletonSpec, skeleton_dict
from videos.extraction import Strategy
from videos.services import MAX_FRAMES_PER_EXTRACTION


def _names(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _pairs(text: str, field: str) -> list[list[str]]:
    pairs = []
    for line in text.replace(";", "\n").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("-", ",").split(",") if p.strip()]
        if len(parts) != 2:
            raise ValidationError(
                f"{field}: write one pair per line, like 'leftear, rightear' "
                f"(not {line.strip()!r})."
            )
        pairs.append(parts)
    return pairs


def edges_field(rows: int) -> forms.CharField:
    """Skeleton edges typed one per line (parsed by `_pairs`)."""
    return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": rows}),
                           help_text="Lines drawn between body parts, one per line: "
                           "'snout, leftear'.")


def pairs_field(rows: int) -> forms.CharField:
    """Left/right pairs typed one per line (parsed by `_pairs`)."""
    return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": rows}),
                           help_text="Left/right pairs, swapped when training flips images: "
                           "'leftear, rightear'. A body part can be in one pair only.")


def individuals_field() -> forms.CharField:
    return forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when the animals can be told apart (a marked mouse, a male and a "
                  "female): one name per animal, one per line. Empty: anonymous animals, "
                  "tracked by position.")


class AnimalsMixin:
    """max_animals + individuals (typed one per line), checked by projects.animals."""

    def clean_individuals(self) -> list[str]:
        return parse_individuals(self.cleaned_data.get("individuals") or "")

    def check_animal_settings(self, cleaned: dict[str, Any]) -> None:
        try:
            check_animals(self.instance, cleaned.get("max_animals") or 1,
                          cleaned.get("individuals") or [])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)


class ProjectCreateForm(AnimalsMixin, forms.ModelForm):
    bodyparts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), help_text="One body part per line, in order."
    )
    edges = edges_field(3)
    pairs = pairs_field(2)
    individuals = individuals_field()

    class Meta:
        model = Project
        fields = ["name", "description", "max_animals"]
        labels = {"max_animals": "Animals per frame (at most)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_animals"].required = False  # not sent: one animal, as before

    def clean_max_animals(self) -> int:
        return self.cleaned_data.get("max_animals") or 1

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.check_animal_settings(cleaned)
        return cleaned

    def skeleton(self) -> dict:
        """The skeleton spec from the cleaned text fields."""
        return {
            "bodyparts": [{"name": n} for n in _names(self.cleaned_data["bodyparts"])],
            "edges": _pairs(self.cleaned_data.get("edges", ""), "edges"),
            "pairs": _pairs(self.cleaned_data.get("pairs", ""), "pairs"),
        }


def _weight_field(name: str) -> forms.FloatField:
    return forms.FloatField(
        label=name, min_value=0, max_value=1000, required=False,
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text=f"{SCORE_DESCRIPTIONS[name]} Default {DEFAULT_WEIGHTS[name]:g}; 0 ignores it.",
    )


class ProjectSettingsForm(AnimalsMixin, forms.ModelForm):
    """The loop's settings; acquisition weights get one number field per score.

    Weights are saved as the project's overrides of `DEFAULT_WEIGHTS` (an empty field or the
    default value stores nothing), the mapping `learning.selection.scoring` reads.
    """

    WEIGHT_PREFIX = "weight_"

    class Meta:
        model = Project
        fields = ["name", "description", *(f for f in LOOP_FIELDS if f != "acquisition_weights"),
                  "max_animals"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {"max_animals": "Animals per frame (at most)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from learning.training.runs import input_scale_status

        super().__init__(*args, **kwargs)
        # As stored (before this form's data): the override, or the automatic choice and why.
        self.input_scale_status = input_scale_status(self.instance)
        self.fields["input_scale"].widget.attrs.update(placeholder="automatic", step="any")
        self.fields["individuals"] = individuals_field()
        self.fields["individuals"].initial = "\n".join(self.instance.individuals or [])
        stored = self.instance.acquisition_weights or {}
        for name, default in DEFAULT_WEIGHTS.items():
            field = _weight_field(name)
            field.initial = stored.get(name, default)
            self.fields[self.WEIGHT_PREFIX + name] = field

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[self.WEIGHT_PREFIX + name] for name in DEFAULT_WEIGHTS]

    def setting_fields(self) -> list[forms.BoundField]:
        return [bf for bf in self if not bf.name.startswith(self.WEIGHT_PREFIX)]

    def weights(self) -> dict[str, float]:
        """The cleaned weights that differ from the defaults."""
        out = {}
        for name, default in DEFAULT_WEIGHTS.items():
            value = self.cleaned_data.get(self.WEIGHT_PREFIX + name)
            if value is not None and value != default:
                out[name] = float(value)
        return out

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.check_animal_settings(cleaned)
        fields = [self.WEIGHT_PREFIX + name for name in DEFAULT_WEIGHTS]
        if all(f in cleaned for f in fields) and not any(
            {**DEFAULT_WEIGHTS, **self.weights()}.values()
        ):
            raise ValidationError("At least one acquisition weight must be above 0.")
        return cleaned

    def save(self, commit: bool = True) -> Project:
        self.instance.acquisition_weights = self.weights()
        self.instance.individuals = self.cleaned_data.get("individuals") or []
        return super().save(commit)


class SkeletonForm(forms.Form):
    """Edges and left/right pairs between the project's body parts (body parts stay as they are)."""

    edges = edges_field(5)
    pairs = pairs_field(3)

    def __init__(self, project: Project, *args: Any, **kwargs: Any) -> None:
        skeleton = skeleton_dict(project)
        kwargs.setdefault("initial", {
            "edges": "\n".join(f"{a}, {b}" for a, b in skeleton["edges"]),
            "pairs": "\n".join(f"{a}, {b}" for a, b in skeleton["pairs"]),
        })
        super().__init__(*args, **kwargs)
        self.bodyparts = skeleton["bodyparts"]

    def clean_edges(self) -> list[list[str]]:
        return _pairs(self.cleaned_data["edges"], "edges")

    def clean_pairs(self) -> list[list[str]]:
        return _pairs(self.cleaned_data["pairs"], "pairs")

    def spec(self) -> SkeletonSpec:
        """The full skeleton for `set_skeleton`: body parts unchanged, the edited links."""
        return {
            "bodyparts": [{"id": bp["id"], "name": bp["name"], "color": bp["color"]}
                          for bp in self.bodyparts],
            "edges": self.cleaned_data["edges"],
            "pairs": self.cleaned_data["pairs"],
        }

    def add_skeleton_error(self, exc: ValidationError) -> None:
        """Show `set_skeleton`'s refusal beside the field it is about."""
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    email = forms.EmailField(required=False)


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A video file (mp4, avi, mov…).")


class ExtractForm(forms.Form):
    strategy = forms.ChoiceField(choices=[(s.value, s.value) for s in Strategy], initial="kmeans")
    n = forms.IntegerField(min_value=1, max_value=MAX_FRAMES_PER_EXTRACTION, initial=20)
