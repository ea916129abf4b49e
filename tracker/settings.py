"""Settings, all read from the environment (see README.md, "Configuration").

Defaults suit a developer's machine: DEBUG on, SQLite next to manage.py. Production sets
DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL=postgres://...
"""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "simple_history",
    "axes",
    "csp",
    "tracker.api",  # before rest_framework: its rest_framework/api.html (the browsable API's page) is the one used
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tracker.commitments",
    "tracker.accounts",
    "tracker.site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tracker.caching.PublicCacheMiddleware",  # outside sessions: it sees the cookies they set
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tracker.caching.LanguageByPathMiddleware",  # the reader site in four languages, by URL prefix (/de/, ...)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracker.routers.AnonymousReadsMiddleware",  # after authentication: it asks whether the request is a reader's
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tracker.site.context_processors.data_updated",
            ],
        },
    },
]

# SQLite next to manage.py unless DATABASE_URL says otherwise (postgres://user@host:port/name).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",  # set but empty: the default
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own queries bind parameters client-side and are never prepared. The API's pledge page asks
    # for server-side prepared statements (api/serializers.py); 0 turns them off, e.g. behind a pooler in
    # transaction mode that cannot keep them.
    if env_bool("PG_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# PostgreSQL read replicas (comma-separated URLs): anonymous readers' reads go to them (tracker/routers.py).
READ_REPLICAS = []
for _number, _url in enumerate(filter(None, (u.strip() for u in os.environ.get("DATABASE_REPLICA_URLS", "").split(
        ","))), start=1):
    DATABASES[f"replica{_number}"] = dj_database_url.parse(
        _url, conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")), conn_health_checks=True)
    DATABASES[f"replica{_number}"]["TEST"] = {"MIRROR": "default"}  # tests read the primary's test database
    if "prepare_threshold" in DATABASES["default"].get("OPTIONS", {}):
        DATABASES[f"replica{_number}"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
    READ_REPLICAS.append(f"replica{_number}")
DATABASE_ROUTERS = ["tracker.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The reader site's languages: English at /, the others under their prefix (/de/, /fr/, /uk/). The API and the admin
# stay English.
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch"), ("fr", "Français"), ("uk", "Українська")]
LOCALE_PATHS = [BASE_DIR / "tracker" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Mostly for bulk admin actions on many pledges at once.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Failed logins per client address, and per username, after which either is locked out for LOGIN_THROTTLE_WINDOW
# seconds (django-axes; see tracker/accounts/lockout.py).
LOGIN_THROTTLE_ATTEMPTS = int(os.environ.get("LOGIN_THROTTLE_ATTEMPTS", "5"))
LOGIN_THROTTLE_WINDOW = int(os.environ.get("LOGIN_THROTTLE_WINDOW", "900"))
AUTHENTICATION_BACKENDS = [
    "tracker.accounts.lockout.LoginGateBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_THROTTLE_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_THROTTLE_WINDOW)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one reaching the limit locks it out
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lock lasts the documented window, no longer
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# How many reverse proxies (each appending to X-Forwarded-For) stand between clients and the app: 0 reads the
# client's address from the connection itself, so a client cannot pretend to be another with the header.
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
AXES_IPWARE_PROXY_ORDER = "right-most"
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXIES else ("REMOTE_ADDR",)

API_MAX_PAGE_SIZE = 1000
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(256 * 1024)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.api.permissions.ReadOrEditorWrite"],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsing.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "tracker.api.parsing.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "tracker.api.exports.CSVRenderer",
        "tracker.api.exports.XLSXRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tracker.api.negotiation.ContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.StableCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["tracker.api.permissions.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_ANON_RATE", "300/minute")},
    # Who a client is, for the rate limit: its address, or (behind TRUSTED_PROXIES proxies) the address the nearest
    # proxy saw; never an X-Forwarded-For the client wrote itself.
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tracker.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "URL_FORMAT_OVERRIDE": "format",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coalition commitment tracker API",
    "DESCRIPTION": "Who pledged what to which coalition, towards which objective, and what was delivered. "
    "Anonymous callers see published records only. Writes need an editor's token "
    "(`Authorization: Token <key>`) and an `If-Match` header on updates.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "NationKindEnum": "tracker.commitments.models.NationKind",
        "SourceKindEnum": "tracker.commitments.models.SourceKind",
        "PledgeKindEnum": "tracker.commitments.models.PledgeKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.document_operations",
    ],
}

# Without REDIS_URL: the shared cache (summaries, list counts) is a database table every worker shares, and API
# request throttling counts in each process's memory, to keep reads free of database writes. With REDIS_URL (several
# app servers): both live in Redis, so every worker and server shares them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "tracker_cache",
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    },
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"},
    # Each worker's own copy of summaries, in front of the shared one (keys hold the data version).
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local",
              "OPTIONS": {"MAX_ENTRIES": 2_000}},
}
REDIS_URL = os.environ.get("REDIS_URL", "")


def redis_cache(url, prefix):
    """Django's own Redis cache; short timeouts, so a Redis that is down costs an instant (the caches fail open)."""
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}


if REDIS_URL:
    CACHES["default"] = redis_cache(REDIS_URL, "tracker")
    CACHES["throttle"] = redis_cache(REDIS_URL, "tracker-throttle")

# How long browsers (max-age), then shared caches and CDNs (s-maxage), may keep what anonymous readers get, and how
# long a shared cache may serve it while fetching a fresh copy (seconds). Editors' views are never shared.
PUBLIC_CACHE_MAX_AGE = int(os.environ.get("PUBLIC_CACHE_MAX_AGE", "30"))
PUBLIC_CACHE_S_MAXAGE = int(os.environ.get("PUBLIC_CACHE_S_MAXAGE", "60"))
PUBLIC_CACHE_STALE_WHILE_REVALIDATE = int(os.environ.get("PUBLIC_CACHE_STALE_WHILE_REVALIDATE", "300"))

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Content-Security-Policy (django-csp) on every response: scripts only from this site, so an injected <script> or
# inline handler cannot run; nothing loaded from elsewhere; no framing, but for the embed pages (site/views.py).
# Inline styles are allowed: the admin's widgets and the charts' SVG (matplotlib) carry them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
