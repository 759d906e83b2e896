from django.contrib import admin

from projects.models import BodyPart, Project, SkeletonEdge


class BodyPartInline(admin.TabularInline):
    model = BodyPart
    fk_name = "project"
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at", "selection_strategy", "deleted_at"]
    search_fields = ["name"]
    inlines = [BodyPartInline]


@admin.register(BodyPart)
class BodyPartAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "order", "mirror"]
    list_filter = ["project"]


@admin.register(SkeletonEdge)
class SkeletonEdgeAdmin(admin.ModelAdmin):
    list_display = ["project", "source", "target"]
