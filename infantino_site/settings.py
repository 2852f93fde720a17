"""InfantinO settings: the embedded profile by default, production parts switched on by environment."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from infantino_site.env import env_float, env_int, env_secret, require_together
from infantino_site.variables import plain_settings, value

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(value("INFANTINO_VAR_DIR", str(BASE_DIR / "var"))).resolve()  # made by infantino_site.apps

# Every environment variable is defined once, in infantino_site.variables (type, default, meaning; the deploy docs
# and .env.example are written from there). Those that are a setting as read arrive here all at once (DEBUG, the
# INFANTINO_* knobs of the model, labeling, jobs and login); the rest are composed below.
_plain = plain_settings()
globals().update(_plain)

# ---- production parts: each is on when its variables are set, and then needs all of them ------------
DATABASE_URL = value("DATABASE_URL")
REDIS_URL = value("REDIS_URL")
MLFLOW_TRACKING_URI = value("MLFLOW_TRACKING_URI")
S3_VARIABLES = ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION"]
require_together(S3_VARIABLES, part="S3 image storage")
S3_BUCKET = value("S3_BUCKET")
if value("S3_ENDPOINT_URL") and not S3_BUCKET:
    raise ImproperlyConfigured("S3_ENDPOINT_URL is set but S3_BUCKET is not: set the S3 variables together")
PRODUCTION_PARTS = [name for name in ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "S3_BUCKET") if value(name)]

SECRET_KEY = env_secret("SECRET_KEY", required_by=PRODUCTION_PARTS)
# Without one, the embedded profile keeps a key of its own in this file, made on its first start.
INFANTINO_SECRET_KEY_FILE = None if SECRET_KEY else VAR_DIR / "secret_key"

INSTALLED_APPS = [
    "daphne",
    "infantino_site",  # first: its ready() makes VAR_DIR and the secret key before any other app needs them
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # tokens for scripts: POST /api/token/ (accounts.api)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: /api/docs/ works offline and under the CSP
    "channels",
    "accounts",
    "predictions",
    "modelops",
    "annotations",
    "videos",
]

MIDDLEWARE = [
    "infantino_site.health.HealthCheckMiddleware",  # /healthz and /readyz, before the host check and the redirect
    "django.middleware.security.SecurityMiddleware",
    "infantino_site.csp.ContentSecurityPolicyMiddleware",  # on every response: no inline script or style
    "infantino_site.static.StaticFilesMiddleware",  # WhiteNoise, in the async chain too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginLockoutMiddleware",  # 429 page for a sign-in refused by accounts.guard
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "infantino_site.urls"
ASGI_APPLICATION = "infantino_site.asgi.application"

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

# ---- database -------------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so persistent connections (CONN_MAX_AGE) are never
        # reused: they piled up until PostgreSQL refused clients. A pool per process is shared by its threads.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 10),
            "timeout": env_float("DATABASE_POOL_TIMEOUT_SECONDS", 10.0),
        }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "infantino.sqlite3"}}
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---- image storage --------------------------------------------------------------------------------
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
if S3_BUCKET:
    default_storage = {
        "BACKEND": "infantino_site.storage.S3ImageStorage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": value("S3_ENDPOINT_URL"),
            "access_key": value("S3_ACCESS_KEY_ID"),
            "secret_key": value("S3_SECRET_ACCESS_KEY"),
            "region_name": value("S3_REGION"),
            "querystring_expire": value("S3_URL_EXPIRE_SECONDS"),  # private bucket, presigned URLs: see storage
            "connect_timeout": value("S3_CONNECT_TIMEOUT_SECONDS"),
            "read_timeout": value("S3_READ_TIMEOUT_SECONDS"),
            "max_attempts": value("S3_MAX_ATTEMPTS"),
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SERVE_MEDIA = not S3_BUCKET

# ---- channels, cache and background jobs -----------------------------------------------------------
if REDIS_URL:
    # redis-py 8 gives up reading after 5 s, channels-redis waits 5 s for a message: idle websockets need longer.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 1}]},
        }
    }
    # A Redis outage must cost speed, not requests: the cache reads as empty (sessions come from the database,
    # throttles let requests through) and a Redis that does not answer is given up on within a second.
    CACHES = {
        "default": {
            "BACKEND": "infantino_site.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": value("REDIS_CACHE_TIMEOUT_SECONDS"),
            },
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    CELERY_BROKER_URL = REDIS_URL
    INFANTINO_JOB_RUNNER = value("INFANTINO_JOB_RUNNER", "celery")
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = None
    INFANTINO_JOB_RUNNER = value("INFANTINO_JOB_RUNNER", "thread")
if INFANTINO_JOB_RUNNER not in {"thread", "celery", "inline"}:
    raise ImproperlyConfigured(f"INFANTINO_JOB_RUNNER must be thread, celery or inline, not {INFANTINO_JOB_RUNNER!r}")
if INFANTINO_JOB_RUNNER == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("INFANTINO_JOB_RUNNER=celery needs REDIS_URL for the broker")
# A job that fails (MLflow or S3 unreachable, say) runs again after 2, 4, 8 … s, at most INFANTINO_JOB_MAX_RETRIES
# times; a label still queued after that is queued again by the sweep, so it waits instead of vanishing.

# ---- MLflow and the model -------------------------------------------------------------------------
INFANTINO_MLFLOW_URI = MLFLOW_TRACKING_URI or f"sqlite:///{VAR_DIR / 'mlflow.db'}"
INFANTINO_MLFLOW_ARTIFACTS = None if MLFLOW_TRACKING_URI else (VAR_DIR / "mlartifacts").as_uri()
_shared_data = BASE_DIR.parent / "shared" / "data"
INFANTINO_DATA_DIR = value("INFANTINO_DATA_DIR", str(_shared_data) if _shared_data.exists() else None)

# ---- uploads --------------------------------------------------------------------------------------
INFANTINO_MAX_UPLOAD_BYTES = value("INFANTINO_MAX_UPLOAD_MB") * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = INFANTINO_MAX_UPLOAD_BYTES + 1024 * 1024
INFANTINO_VIDEO_MAX_BYTES = value("INFANTINO_VIDEO_MAX_MB") * 1024 * 1024
INFANTINO_VIDEO_MAX_SECONDS = value("INFANTINO_VIDEO_MAX_MINUTES") * 60.0
if _plain["INFANTINO_VIDEO_FPS"] > 10:  # videos.models.MAX_FPS: a check in the database too
    raise ImproperlyConfigured(f"INFANTINO_VIDEO_FPS must be 10 or less, not {_plain['INFANTINO_VIDEO_FPS']}")

# ---- auth, API ------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "predictions:upload"
LOGOUT_REDIRECT_URL = "predictions:upload"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Requests per client before a 429: anon and user for every API call, stricter scopes for uploads and labels.
# "off" turns one rate off; INFANTINO_THROTTLE=false turns throttling off altogether (the tests do).
INFANTINO_THROTTLE_RATES = {
    "anon": value("INFANTINO_THROTTLE_ANON"),
    "user": value("INFANTINO_THROTTLE_USER"),
    "uploads": value("INFANTINO_THROTTLE_UPLOADS"),
    "labels": value("INFANTINO_THROTTLE_LABELS"),
}
# Password guessing (accounts.lockout): wrong passwords counted per account and, stricter so one client cannot lock
# the owner out, per client address in a window from the first; past either limit, refused unchecked until it ends.
AUTHENTICATION_BACKENDS = ["accounts.guard.LoginGuardBackend", "django.contrib.auth.backends.ModelBackend"]
INFANTINO_LOGIN_THROTTLE = value("INFANTINO_LOGIN_THROTTLE", _plain["INFANTINO_THROTTLE"])
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "infantino_site.authentication.CsrfSessionAuthentication",  # CSRF for every browser write, even anonymous
        "accounts.authentication.ThrottledBasicAuthentication",  # HTTP Basic, refused unchecked while locked
        "rest_framework.authentication.TokenAuthentication",  # "Authorization: Token …" (no CSRF: no cookie)
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "common.throttling.AnonThrottle",
        "common.throttling.UserThrottle",
        "common.throttling.ScopeThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": INFANTINO_THROTTLE_RATES,
    # Clients are told apart by REMOTE_ADDR; behind N proxies set INFANTINO_NUM_PROXIES=N, so X-Forwarded-For
    # is read N hops deep and a client cannot pick its own address to dodge the throttle.
    "NUM_PROXIES": value("INFANTINO_NUM_PROXIES"),
    "EXCEPTION_HANDLER": "common.api_errors.error_handler",
    # DRF's own JSON and form parsers read a body of any size; these keep DATA_UPLOAD_MAX_MEMORY_SIZE.
    "DEFAULT_PARSER_CLASSES": [
        "common.api_inputs.JSONParser",
        "common.api_inputs.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "InfantinO API",
    "DESCRIPTION": "Infant facial expression recognition that learns from its users' labels.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # never sends the schema URL elsewhere
    "ENUM_NAME_OVERRIDES": {
        "ExpressionEnum": "predictions.models.Expression",
        "ExpressionValueEnum": "predictions.ml.LABELS",  # the same labels where a serializer lists only values
        "PredictedLabelEnum": "predictions.models.PREDICTED_LABELS",
    },
}

TIME_ZONE = "UTC"
USE_I18N = False

# ---- HTTPS and cookies ------------------------------------------------------------------------------
# On as soon as a production part is on: a deployment is served over HTTPS (behind a proxy that terminates TLS
# and sets X-Forwarded-Proto). Tests serving the production profile over http on loopback turn it off.
INFANTINO_HTTPS = value("INFANTINO_HTTPS", bool(PRODUCTION_PARTS))
SECURE_SSL_REDIRECT = INFANTINO_HTTPS
SESSION_COOKIE_SECURE = INFANTINO_HTTPS
CSRF_COOKIE_SECURE = INFANTINO_HTTPS
SECURE_HSTS_SECONDS = value("INFANTINO_HSTS_SECONDS") if INFANTINO_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = INFANTINO_HTTPS
SECURE_HSTS_PRELOAD = value("INFANTINO_HSTS_PRELOAD")
if value("INFANTINO_BEHIND_PROXY", INFANTINO_HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Preloading binds the whole domain to HTTPS in browsers for good: an operator's choice, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SAMESITE = "Lax"  # a cross-site POST carries no session: the anonymous upload owner cannot be forged
SESSION_COOKIE_AGE = value("INFANTINO_SESSION_DAYS") * 24 * 3600
# Django's defaults, relied on: HttpOnly session cookie, Lax CSRF cookie, nosniff, same-origin referrer and
# opener policies, X-Frame-Options DENY.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _plain["LOG_LEVEL"]},
    "loggers": {"mlflow": {"level": "WARNING"}, "alembic": {"level": "WARNING"}},
}
