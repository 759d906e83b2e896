from django.contrib import admin

from learning.models import CurrentModel, ModelVersion, SplitAssignment


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "iteration", "status", "device", "training_seconds", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["label_snapshot", "metrics", "history", "job", "parent"]


admin.register(CurrentModel)(admin.ModelAdmin)
admin.register(SplitAssignment)(admin.ModelAdmin)
