from django.contrib import admin

from learning.models import CurrentModel, ModelVersion, SplitAssignment, TrackSwap, ZooEntry


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "iteration", "status", "device", "training_seconds", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["label_snapshot", "metrics", "history", "job", "parent"]


admin.register(CurrentModel)(admin.ModelAdmin)
admin.register(SplitAssignment)(admin.ModelAdmin)


@admin.register(ZooEntry)
class ZooEntryAdmin(admin.ModelAdmin):
    list_display = ["name", "species", "camera_view", "visibility", "published_by", "created_at"]
    list_filter = ["visibility", "species"]
    readonly_fields = ["checkpoint_sha256", "model_config", "source_version"]


@admin.register(TrackSwap)
class TrackSwapAdmin(admin.ModelAdmin):
    list_display = ["project", "video", "analysis_id", "frame", "track_a", "track_b",
                    "created_by", "created_at"]
