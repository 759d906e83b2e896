"""Forms of the project pages."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Role
from projects.models import Project
from projects.serializers import LOOP_FIELDS
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
            raise ValidationError(f"{field}: write one pair per line, like 'leftear, rightear'.")
        pairs.append(parts)
    return pairs


class ProjectCreateForm(forms.ModelForm):
    bodyparts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), help_text="One body part per line, in order."
    )
    edges = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Skeleton edges, one per line: 'snout, leftear'.",
    )
    pairs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Left/right pairs swapped by flip augmentation: 'leftear, rightear'.",
    )

    class Meta:
        model = Project
        fields = ["name", "description"]

    def skeleton(self) -> dict:
        """The skeleton spec from the cleaned text fields."""
        return {
            "bodyparts": [{"name": n} for n in _names(self.cleaned_data["bodyparts"])],
            "edges": _pairs(self.cleaned_data.get("edges", ""), "edges"),
            "pairs": _pairs(self.cleaned_data.get("pairs", ""), "pairs"),
        }


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description", *LOOP_FIELDS]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


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
