"""Settings, read from the environment (twelve-factor, django-environ).

With no ``DATABASE_URL`` and no ``REDIS_URL`` the studio runs on its embedded default: SQLite in
WAL mode and a Celery broker on the local filesystem, both under ``var/``, so a fresh checkout
needs no server. With them, PostgreSQL and Redis. The code path is the same in both cases.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from apps.core import egress
from apps.core.queues import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Where the embedded default keeps its database, broker messages and uploads.
DATA_DIR = Path(env.str("RUBRICSTUDIO_DATA_DIR", default=str(BASE_DIR / "var")))

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL

# Production is declared explicitly (the compose file sets it); development is the default so
# that `make run` works on a fresh machine.
PRODUCTION = env.bool("RUBRICSTUDIO_PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (RUBRICSTUDIO_PRODUCTION=1).")

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION or not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "js_lib_htmx",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.rubrics",
    "apps.datasets",
    "apps.annotations",
    "apps.judging",
    "apps.drift",
    "apps.forensics",
    "apps.redteam",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.ApiJsonErrorMiddleware",
    "apps.core.middleware.UploadSizeLimitMiddleware",
    "apps.core.middleware.HostileTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

if PRODUCTION:
    # Static files straight from the web process (gunicorn), compressed and cache-busted.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "rubricstudio.urls"
WSGI_APPLICATION = "rubricstudio.wsgi.application"
ASGI_APPLICATION = "rubricstudio.asgi.application"

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
                "apps.accounts.context_processors.navigation",
            ],
        },
    }
]

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # The folder is made at start-up (apps/core/embedded.py), not when settings are read.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "rubricstudio.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while the worker writes; the busy timeout makes
                # a writer wait for the other instead of failing at once.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory, so worker processes started by tests see the test database.
            "TEST": {"NAME": str(DATA_DIR / "test-rubricstudio.sqlite3")},
        }
    }
    if env.str("RUBRICSTUDIO_TEST_SQLITE", default=""):
        DATABASES["default"]["NAME"] = env.str("RUBRICSTUDIO_TEST_SQLITE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads: large files stream to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["apps.core.uploads.LimitedUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
RUBRICSTUDIO_MAX_UPLOAD_BYTES = env.int("RUBRICSTUDIO_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)

# Cache: Redis when configured (shared by every process, used for login throttling);
# a local-memory cache otherwise.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Judging: a run whose answers are more than this share without a verdict ends ``partial``
# with a message saying why; a judge check fails below this sanity-set parse rate.
JUDGING_MAX_INVALID_SHARE = env.float("JUDGING_MAX_INVALID_SHARE", default=0.5)
JUDGE_CHECK_MIN_PARSE_RATE = env.float("JUDGE_CHECK_MIN_PARSE_RATE", default=0.9)

# Failed-login throttling: this many failures per username and address within the window.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.ProjectRolePermission"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.ObjectJSONParser",
        "apps.core.parsers.CheckedFormParser",
        "apps.core.parsers.CheckedMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": "20/min"},
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rubric Studio API",
    "DESCRIPTION": "Rubrics, reference sets, judging runs and drift reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Everything works offline: Swagger UI comes from an installed package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "GoldLabelEnum": "apps.datasets.models.GoldLabel",
        "VerdictEnum": "apps.judging.models.Verdict",
        "RoleEnum": "apps.accounts.models.Role",
        "DriftReportStatusEnum": "apps.drift.models.ReportStatus",
        "ForensicsJobStatusEnum": "apps.forensics.models.JobStatus",
        "JudgeDriftTriggerEnum": "apps.forensics.models.JudgeDriftTrigger",
        # The drift report's trigger keeps the name it had before judge drift reports came.
        "TriggerEnum": "apps.drift.models.ReportTrigger",
    },
}

# --- Celery -------------------------------------------------------------------------------
# The longest task (a judging chunk) is bounded by the hard limit; the broker must not hand a
# message to another worker while the first may still be working on it.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    BROKER_DIR = DATA_DIR / "broker"
    # A host, though the transport ignores it: without one kombu warns "No hostname was supplied"
    # on every connection, in the output of every command.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS_FILESYSTEM = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 2,
    **(CELERY_BROKER_TRANSPORT_OPTIONS_FILESYSTEM if not REDIS_URL else {}),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# State lives on database rows (runs carry their own progress), never in a result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_ROUTES = {
    "judging.judge_chunk_api": {"queue": Queue.API.value},
    "judging.judge_chunk_gpu": {"queue": Queue.GPU.value},
    "judging.judge_check": {"queue": Queue.API.value},
    "judging.*": {"queue": Queue.DEFAULT.value},
    "drift.*": {"queue": Queue.DEFAULT.value},
    "forensics.attribute_api": {"queue": Queue.API.value},
    "forensics.attribute_gpu": {"queue": Queue.GPU.value},
    "forensics.*": {"queue": Queue.DEFAULT.value},
    "redteam.step_api": {"queue": Queue.API.value},
    "redteam.*": {"queue": Queue.DEFAULT.value},
    "core.*": {"queue": Queue.DEFAULT.value},
}
# One message at a time per process: chunks are long, and a GPU worker must not hoard work.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# Liveness of long jobs (apps/core/liveness.py): a chunk at work beats its claim and its run's
# heartbeat every LIVENESS_HEARTBEAT_S; a claim or heartbeat silent for LIVENESS_STALE_AFTER_S
# means its worker is gone (the claim may be taken again, the sweep resumes the run); the sweeps
# run every LIVENESS_SWEEP_S. The window must hold several beats, so a slow beat is not a death.
LIVENESS_HEARTBEAT_S = env.float("LIVENESS_HEARTBEAT_S", default=5.0)
LIVENESS_STALE_AFTER_S = env.float("LIVENESS_STALE_AFTER_S", default=20.0)
LIVENESS_SWEEP_S = env.float("LIVENESS_SWEEP_S", default=15.0)
# How long the answer of Celery's worker inspection (a broadcast) is reused by pages and sweeps.
LIVENESS_INSPECT_CACHE_S = env.float("LIVENESS_INSPECT_CACHE_S", default=10.0)
if LIVENESS_HEARTBEAT_S > 0 and LIVENESS_STALE_AFTER_S < 2 * LIVENESS_HEARTBEAT_S:
    raise ImproperlyConfigured(
        "LIVENESS_STALE_AFTER_S must be at least twice LIVENESS_HEARTBEAT_S, or live work "
        "would be taken for dead."
    )
# Consecutive automatic resumes of a run (a worker consumes its queue, nothing waits in it) that
# bring no progress before the sweep fails it; a chunk claimed this many times more than its
# retries allow (its worker died each time) is given up.
JUDGING_MAX_RESUMES = env.int("JUDGING_MAX_RESUMES", default=3)
# Judgments per chunk (one task); a judge config may set its own in its params.
JUDGING_CHUNK_SIZE = env.int("JUDGING_CHUNK_SIZE", default=250)
# Retries of a chunk whose judge calls failed (network, 5xx), with backoff and jitter.
JUDGING_CHUNK_RETRIES = env.int("JUDGING_CHUNK_RETRIES", default=3)
# Attempts of a webhook delivery before it is recorded as failed.
DRIFT_WEBHOOK_RETRIES = env.int("DRIFT_WEBHOOK_RETRIES", default=5)
# One message per period runs every app's sweep (apps/core/liveness.py says why one). It expires
# after a period, so sweeps that outlast theirs never pile up in the queue behind each other; the
# cost: behind a backlog of more than a period on `default`, no sweep runs until the workers,
# busy with that backlog meanwhile, have cleared it.
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-work": {
        "task": "core.sweep_stale_work",
        "schedule": LIVENESS_SWEEP_S,
        "options": {"expires": LIVENESS_SWEEP_S},
    },
}
# Seconds without a heartbeat after which a red-team job counts as orphaned (its worker died)
# and the sweep sends its next step again; a step never outlives the hard time limit.
REDTEAM_STALE_AFTER_S = env.int("REDTEAM_STALE_AFTER_S", default=CELERY_TASK_TIME_LIMIT + 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): scripts only from our own static files, so injected
# markup cannot run. Inline *styles* stay allowed: they cannot execute code, and progress bars
# and charts set widths with them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Mail: SMTP when EMAIL_HOST is set, the console otherwise.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
# --- Egress: what judge configs and webhooks may make workers do (apps/core/egress/) -------
# Judge keys the operator declares: NAME=URL pairs (a name once per endpoint it may go to). A
# judge config may name only these, each only with its endpoints; the studio's own secrets
# (SECRET_KEY, DATABASE_URL, REDIS_URL, RUBRICSTUDIO_*, POSTGRES_*...) are refused here.
try:
    RUBRICSTUDIO_JUDGE_KEYS = egress.parse_judge_keys(
        env.str("RUBRICSTUDIO_JUDGE_KEYS", default=f"OPENAI_API_KEY={egress.DEFAULT_OPENAI_URL}")
    )
    # URL prefixes keyless judge endpoints and webhooks may use; "*" allows any URL (the
    # embedded default, so a loopback llama.cpp/vLLM/Ollama works without set-up).
    RUBRICSTUDIO_EGRESS_ALLOWLIST = egress.parse_allowlist(
        env.list("RUBRICSTUDIO_EGRESS_ALLOWLIST", default=[] if PRODUCTION else [egress.ANY_URL])
    )
    # Non-public networks workers may connect to (checked on the address connected to).
    # Production: none unless listed; elsewhere loopback and private ranges, never link-local.
    RUBRICSTUDIO_EGRESS_NETWORKS = egress.parse_networks(
        env.list(
            "RUBRICSTUDIO_EGRESS_NETWORKS",
            default=[] if PRODUCTION else list(egress.DEVELOPMENT_NETWORKS),
        )
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"Egress settings: {exc}") from exc

# Local models: authors pick a model by name among the subfolders of this directory or the hub
# ids listed; trust_remote_code only for the names listed; the device is the operator's.
RUBRICSTUDIO_MODELS_DIR = env.str("RUBRICSTUDIO_MODELS_DIR", default="")
RUBRICSTUDIO_LOCAL_MODELS = env.list("RUBRICSTUDIO_LOCAL_MODELS", default=[])
RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS = env.list(
    "RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS", default=[]
)
RUBRICSTUDIO_LOCAL_DEVICE = env.str("RUBRICSTUDIO_LOCAL_DEVICE", default="auto")

# Drift forensics: judge calls (not answered by the judging cache) a clause attribution may
# spend, and unflipped pairs in its control sample, when the request names none.
FORENSICS_ATTRIBUTION_BUDGET = env.int("FORENSICS_ATTRIBUTION_BUDGET", default=5000)
FORENSICS_CONTROL_PAIRS = env.int("FORENSICS_CONTROL_PAIRS", default=50)
# A drift alert that opens starts the attribution of its report, so a reviewer finds it done.
FORENSICS_AUTO_ATTRIBUTE = env.bool("FORENSICS_AUTO_ATTRIBUTE", default=True)
# A drift report whose judge moved between its runs starts the 2 x 2 that splits its causes.
FORENSICS_AUTO_JUDGE_SPLIT = env.bool("FORENSICS_AUTO_JUDGE_SPLIT", default=True)

# Absolute links in webhook messages and emails.
RUBRICSTUDIO_BASE_URL = env.str("RUBRICSTUDIO_BASE_URL", default="")

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="rubric-studio@localhost")
