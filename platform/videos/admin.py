from django.contrib import admin

from videos.models import Frame, Video


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "project",
        "frame_count",
        "width",
        "height",
        "fps",
        "codec",
        "created_at",
    ]
    list_filter = ["project"]
    search_fields = ["name", "sha256"]


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    list_display = ["__str__", "project", "video", "frame_index", "origin", "created_at"]
    list_filter = ["project", "origin"]
