"""PoseLoop settings: one module, every value from the environment (see docker/.env.example)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from poseloop.env import ConfigError, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("POSELOOP_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
HTTPS = env_bool("POSELOOP_HTTPS", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    if env_bool("POSELOOP_REQUIRE_SECRET_KEY", False):
        raise ConfigError("SECRET_KEY must be set (POSELOOP_REQUIRE_SECRET_KEY=1)")
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "poseloop",
    "accounts",
    "projects",
    "videos",
    "jobs",
    "dashboards",
    "annotation",
    "learning",
    "cameras",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a lockout raised during login into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "poseloop.urls"
WSGI_APPLICATION = "poseloop.wsgi.application"
ASGI_APPLICATION = "poseloop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "poseloop.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while a writer writes; IMMEDIATE takes the write lock when a
    # transaction starts, so two queue claims serialize instead of failing with "locked".
    # A file (not :memory:) so that test subprocesses (a Celery worker) see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_S", 30),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
if env_str("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login/token throttle counters, model caches) -------------------------------------
# Local memory by default (per process); a shared Redis in production so that every gunicorn
# worker counts the same login failures and token requests.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ConfigError(f"CACHE_URL={CACHE_URL!r}: use redis://host:6379/1 or leave it empty")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Axes first: it refuses locked-out logins before any password is checked. It needs the request,
# which the login form and DRF's token view pass; force_login/force_authenticate bypass both.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock a username from one address after N failures, for a cool-off; counting per (username,
# address) means nobody elsewhere can lock a user out. A success resets the count.
AXES_FAILURE_LIMIT = env_int("POSELOOP_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("POSELOOP_LOGIN_COOLOFF_MINUTES", 15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- I18N, static, media --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Media is never served from a public URL: frames, videos and models go through
# access-checked views (see videos/views.py), so no MEDIA_URL route exists.
MEDIA_URL = "/media-not-public/"

STORAGE_BACKEND = env_str("POSELOOP_STORAGE", "local")
if STORAGE_BACKEND == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
elif STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    raise ConfigError(f"POSELOOP_STORAGE={STORAGE_BACKEND!r}: use 'local' or 's3'")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG and env_bool("POSELOOP_COMPRESS_STATIC", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Uploads stream to a temporary file past 2.5 MB; the upload handler enforces the limit.
MAX_UPLOAD_MB = env_int("POSELOOP_MAX_UPLOAD_MB", 4096)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "videos.uploads.LimitedTemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("POSELOOP_MAX_BODY_MB", 20) * 1024 * 1024
# Server folders that `register_video` may read (labs keep terabytes on shared disks).
VIDEO_ROOTS = [Path(p) for p in env_list("POSELOOP_VIDEO_ROOTS", [])]

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Pages load only their own scripts, styles and images (no inline code: templates keep data in
# data-* attributes); images may also be blob:/data: URLs drawn on the labeling canvas.
# /api/docs/ (Swagger UI: CDN assets and an inline bootstrap script) is left out of the policy.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ("/api/docs/",),
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "blob:", "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_REFERRER_POLICY = "same-origin"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # Preloading is a deliberate, hard-to-undo choice of the domain's owner, not a default.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: anonymous API calls then get 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "poseloop.api_errors.exception_handler",
    # Only the token endpoint is throttled (poseloop.throttles, per client address).
    "DEFAULT_THROTTLE_RATES": {"token": env_str("POSELOOP_TOKEN_RATE", "10/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PoseLoop API",
    "DESCRIPTION": "Projects, videos, frames, annotation queues, labels, models and exports.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The project's backbone choices and a fast model's (every engine backbone) differ.
    "ENUM_NAME_OVERRIDES": {"ProjectBackboneEnum": "projects.models.Backbone",
                            "StudentBackboneEnum": "learning.engine.config.BACKBONES"},
}

# Soft-deleted projects and videos can be restored for this long, then `purge_deleted` removes them.
DELETE_GRACE_DAYS = env_int("POSELOOP_DELETE_GRACE_DAYS", 30)

# --- Celery ---------------------------------------------------------------------------------
_default_broker = "filesystem://"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _default_broker)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    (_queue_dir / "out").mkdir(parents=True, exist_ok=True)
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_queue_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "out"),
        "data_folder_out": str(_queue_dir / "out"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
# A result backend (compose: Redis) is what lets video analysis fan its chunks out to several
# worker processes: a chord counts its finished parts there. Without one, analysis runs its
# chunks one after the other in one worker (learning.tasks).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
# Nobody waits on a task's return value: results are not stored, except where a task says
# `ignore_result=False` (the analysis chunks, which the chord collects). Stored ones expire.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 3600  # seconds; Redis drops them itself (a key TTL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Training gets its own queue so GPU machines can take it; inference fans out on its own.
# Task names are matched as globs: any app's `train_*` task goes to `training`.
CELERY_TASK_ROUTES = {
    "learning.*train_*": {"queue": "training"},
    "learning.*distill_*": {"queue": "training"},
    "learning.*analyze_*": {"queue": "inference"},
    "learning.*score_*": {"queue": "inference"},
    "cameras.*score_*": {"queue": "inference"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "jobs.tasks.heartbeat", "schedule": 60.0},
    "reap-stale-jobs": {"task": "jobs.tasks.reap_stale_jobs_task", "schedule": 300.0},
}

# --- Learning -------------------------------------------------------------------------------
# A file of ImageNet weights for the backbone, or empty: then the torch hub cache is looked at,
# then training starts from scratch. Nothing is downloaded.
PRETRAINED_WEIGHTS_DIR = env_str("POSELOOP_PRETRAINED_DIR", "")
TORCH_DEVICE = env_str("POSELOOP_DEVICE", "")  # "", "cpu", "cuda", "cuda:1"
TRAIN_DEFAULT_MINUTES = env_float("POSELOOP_TRAIN_MINUTES", 10.0)
# A job queued longer than this without a worker taking it is shown as stuck (with the reason
# when known) and a PI may retry or cancel it (jobs/stuck.py).
JOB_STUCK_AFTER_S = env_int("POSELOOP_JOB_STUCK_AFTER_S", 120)
# Frames a scoring run looks at (shared by the project's videos): bounds the time from a new
# model to a refilled queue, whatever the project's size (learning/selection/scoring.py).
SCORING_MAX_CANDIDATES = env_int("POSELOOP_SCORING_CANDIDATES", 300)
# Tracked video analysis re-detects the animal on the whole frame every this many frames;
# analysis chunks (the unit of fan-out over workers) are multiples of it.
ANALYSIS_KEYFRAME_INTERVAL = env_int("POSELOOP_ANALYSIS_KEYFRAME_INTERVAL", 256)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "numexpr": {"level": "WARNING"},
        # Axes logs every login at INFO; lockouts and failures stay visible at WARNING.
        "axes": {"level": "WARNING"},
    },
}
