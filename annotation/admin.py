from django.contrib import admin

from annotation.models import AgreementRecord, Label, LabelRevision, QueueEntry, Review


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "frame", "status", "pinned", "priority", "reason",
                    "labels_required", "leased_to", "lease_expires_at", "assigned_to"]
    list_filter = ["status", "reason", "pinned", "project"]
    raw_id_fields = ["frame", "leased_to", "assigned_to"]


class LabelRevisionInline(admin.TabularInline):
    model = LabelRevision
    extra = 0
    can_delete = False
    readonly_fields = ["version", "points", "source", "status", "seconds_spent", "saved_by",
                       "saved_at", "request_id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "frame", "annotator", "version", "status", "source",
                    "updated_at"]
    list_filter = ["status", "source", "project"]
    raw_id_fields = ["frame", "annotator"]
    search_fields = ["annotator__username"]
    inlines = [LabelRevisionInline]


@admin.register(LabelRevision)
class LabelRevisionAdmin(admin.ModelAdmin):
    """Read-only: the history is append-only."""

    list_display = ["label", "version", "saved_by", "saved_at", "status"]
    raw_id_fields = ["label", "saved_by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["label", "label_version", "reviewer", "decision", "created_at"]
    list_filter = ["decision"]
    raw_id_fields = ["label", "reviewer"]


@admin.register(AgreementRecord)
class AgreementRecordAdmin(admin.ModelAdmin):
    list_display = ["project", "frame", "bodypart", "mean_distance_px", "n_pairs", "computed_at"]
    list_filter = ["project"]
    raw_id_fields = ["frame", "bodypart"]
