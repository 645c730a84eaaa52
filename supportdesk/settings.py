"""SupportDesk settings: every value that varies between machines comes from the environment here.

With no variables set everything runs on one machine with nothing installed: SQLite, the
in-memory channel layer, eager Celery and the offline bot. ``DATABASE_URL``, ``REDIS_URL`` and
``ANTHROPIC_API_KEY`` switch on PostgreSQL, Redis (channel layer and Celery broker) and Claude.
"""

from __future__ import annotations

import os
import ssl
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "django-insecure-supportdesk-development-key-do-not-use-in-production"


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """The variable ``name`` as a boolean (1/true/yes/on or 0/false/no/off, any case); ``default``
    when unset or empty. Raises ImproperlyConfigured, naming the variable, for any other value."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS | FALSE_WORDS:
        return value in TRUE_WORDS
    raise ImproperlyConfigured(
        f"{name} must be one of 1/true/yes/on or 0/false/no/off, not {value!r}."
    )


def env_int(name: str, default: int) -> int:
    """The variable ``name`` as a whole number; ``default`` when unset or empty. Raises
    ImproperlyConfigured, naming the variable, when it is not a whole number."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_float(name: str, default: float) -> float:
    """The variable ``name`` as a finite number; ``default`` when unset or empty. Raises
    ImproperlyConfigured, naming the variable, when it is not a number."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.")
    return number


def env_rate(name: str, default: str) -> tuple[int, float]:
    """A rate written ``COUNT/SECONDS`` (``"30/10"``: 30 per 10 seconds) as ``(30, 10.0)``."""
    value = os.environ.get(name, "").strip() or default
    try:
        count, seconds = value.split("/")
        rate = int(count), float(seconds)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be COUNT/SECONDS, like {default!r}.") from None
    if rate[0] < 1 or rate[1] <= 0:
        raise ImproperlyConfigured(f"{name} must allow at least 1 in a positive time.")
    return rate


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# "development" (the default) runs on one machine with the built-in key; "production" refuses
# that key and turns on HTTPS-only cookies, HSTS and the SSL redirect.
SUPPORTDESK_ENV = os.environ.get("SUPPORTDESK_ENV", "development").strip().lower()
if SUPPORTDESK_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("SUPPORTDESK_ENV must be 'development' or 'production'.")
PRODUCTION = SUPPORTDESK_ENV == "production"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "Production needs its own SECRET_KEY of at least 50 characters; "
        "the development key is refused."
    )
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "accounts.apps.AccountsConfig",
    "supportdesk.apps.SupportDeskConfig",
    "knowledge",
    "chat",
    "analytics",
    "webhooks",
    # The REST API (/api/): Django REST framework, django-filter, drf-spectacular for the
    # OpenAPI schema and its sidecar for the docs page's Swagger UI files (no CDN).
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    # Login throttling and lockout (django-axes): see "Auth, sessions, security" below.
    "axes",
]

# Messages wait in the server-side session, never in a cookie: the Django admin's "new
# identity secret" action hands the secret to the next page as a message.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "supportdesk.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its "try again later" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "supportdesk.urls"
ASGI_APPLICATION = "supportdesk.asgi.application"
WSGI_APPLICATION = None

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
                "accounts.roles.roles_context",
                "webhooks.context.webhook_notices",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 600))
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters travel apart from the statement text (psycopg's server-side binding, a
    # documented option of Django's PostgreSQL backend): quoting each value into the text on
    # the client was a large share of a bot turn's CPU (its trace is a long JSON value).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env_bool(
            "DATABASE_SERVER_SIDE_BINDING", True
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }
# Any SQLite database, the default file or DATABASE_URL=sqlite:///...: WAL and a busy timeout
# let Daphne and an eager task share the file, and IMMEDIATE transactions take the write lock
# at BEGIN, so two agents claiming at once wait for each other instead of one of them getting
# "database is locked" when its read lock cannot be upgraded.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery ----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# "pubsub" (default): Redis pushes each group message to the subscribed processes once; about
# five times the throughput of "core" in bench/bench_chat.py. "core" keeps per-channel queues
# with a capacity (group_send silently drops for a full member). A widget that missed frames
# catches up from the database either way (join with after_seq).
CHANNEL_LAYER = os.environ.get("CHANNEL_LAYER", "pubsub").strip().lower()
if CHANNEL_LAYER not in {"pubsub", "core"}:
    raise ImproperlyConfigured("CHANNEL_LAYER must be 'pubsub' or 'core'.")
# redis-py 8 times reads out after 5 s, the same as channels_redis's blocking receive: idle
# consumers would die (channels_redis #422). Read for longer.
REDIS_LAYER_HOST = {"address": REDIS_URL, "socket_timeout": 30}
if REDIS_URL and CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_LAYER_HOST],
                "prefix": os.environ.get("CHANNEL_PREFIX", "sd"),
            },
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_LAYER_HOST],
                "capacity": env_int("CHANNEL_CAPACITY", 1000),
                "expiry": 30,
                "prefix": os.environ.get("CHANNEL_PREFIX", "sd"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# The cache carries cross-process facts (taxonomy revision, rate limits): Redis when configured.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CHANNEL_PREFIX", "sd"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Budgets (chat.limits) count in Redis with redis-py when REDIS_URL is set; this process-local
# cache holds them otherwise (the embedded setup is one process).
CACHES["limits"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "limits",
}
REDIS_KEY_PREFIX = os.environ.get("CHANNEL_PREFIX", "sd")

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, made to survive a Redis restart (see supportdesk/broker.py).
    CELERY_BROKER_TRANSPORT = "supportdesk.broker:Transport"
    if CELERY_BROKER_URL.startswith("rediss://"):
        # The scheme no longer picks TLS once the transport is named: ask for it, verified.
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task reserved per worker process: a killed worker holds back at most that many, and the
# outbox's dispatcher queues their answers again after CHAT_OWED_ANSWER_REQUEUE_SECONDS.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Redis redelivers a task nobody acknowledged after this many seconds (a worker killed while
# holding it). It must exceed the longest task, retries' countdowns included (30 s at most).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 300)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Keep Django's DB connections open across tasks (Celery otherwise closes them per task).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BEAT_SCHEDULE = {
    "resolve-inactive-conversations": {
        "task": "chat.tasks.resolve_inactive_conversations",
        "schedule": 60.0,
    },
    # The outbox: answers still owed after CHAT_OWED_ANSWER_REQUEUE_SECONDS are queued again.
    "dispatch-owed-answers": {
        "task": "chat.tasks.owed_answers_dispatch",
        "schedule": 5.0,
    },
    # The e-mail outbox: replies and transcripts due and unsent are queued again.
    "dispatch-owed-emails": {
        "task": "chat.tasks.owed_emails_dispatch",
        "schedule": 30.0,
    },
    # Beat publishes it and a worker runs it: /healthz reports both as seen.
    "heartbeat": {
        "task": "chat.tasks.heartbeat",
        "schedule": 10.0,
    },
    # Keeps the dashboard's preset ranges computed before anyone opens them.
    "refresh-dashboard-presets": {
        "task": "analytics.tasks.presets_refresh",
        "schedule": 60.0,
    },
    # Recomputes the analytics rollup's cohort days that new events touched.
    "refresh-analytics-rollup": {
        "task": "analytics.tasks.rollup_refresh",
        "schedule": 30.0,
    },
    # Webhook deliveries whose retry is due (and any whose queueing failed) are queued again.
    "dispatch-webhook-deliveries": {
        "task": "webhooks.tasks.deliveries_dispatch",
        "schedule": 10.0,
    },
}

# --- Bot -------------------------------------------------------------------------------------
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
ANTHROPIC_MODEL = os.environ.get("ANTHROPIC_MODEL", "claude-haiku-4-5")
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL", "") or None
ANTHROPIC_TIMEOUT = env_float("ANTHROPIC_TIMEOUT", 4.0)
ANTHROPIC_MAX_RETRIES = env_int("ANTHROPIC_MAX_RETRIES", 1)
# Below it a message is handled as the fallback intent. The offline classifier's confidence is
# the top intent's probability against "none of these" alone (0.5: as likely as each other).
BOT_CONFIDENCE_THRESHOLD = env_float("BOT_CONFIDENCE_THRESHOLD", 0.5)
BOT_FALLBACK_INTENT = os.environ.get("BOT_FALLBACK_INTENT", "general_inquiry")
BOT_MAX_TURNS = env_int("BOT_MAX_TURNS", 8)
BOT_MAX_FALLBACKS = env_int("BOT_MAX_FALLBACKS", 2)
BOT_MAX_REPLY_CHARS = env_int("BOT_MAX_REPLY_CHARS", 1200)
# The languages the desk answers in (ISO 639-1 codes, comma-separated): a message in another
# language or script is not understood, and its reply names these.
BOT_LANGUAGES = [code.lower() for code in env_list("BOT_LANGUAGES", ["en"])]

# --- Public help pages (/help/articles/...) ---------------------------------------------------
# The name at the top of an article's public page, and where "Back to" it leads (the company's
# own site; empty for no link). Only http(s) addresses or paths of this site are taken.
HELP_CENTER_NAME = os.environ.get("HELP_CENTER_NAME", "").strip() or "Help center"
HELP_CENTER_HOME_URL = os.environ.get("HELP_CENTER_HOME_URL", "").strip()
if HELP_CENTER_HOME_URL and (
    not HELP_CENTER_HOME_URL.startswith(("https://", "http://", "/"))
    or HELP_CENTER_HOME_URL.startswith("//")
):
    raise ImproperlyConfigured(
        "HELP_CENTER_HOME_URL must be an http(s) address or a path of this site."
    )

# --- Data connectors (knowledge.connectors) -----------------------------------------------------
# Connectors may call private and loopback addresses only with this on (the demo's own API).
CONNECTOR_ALLOW_PRIVATE_NETWORKS = env_bool("CONNECTOR_ALLOW_PRIVATE_NETWORKS", False)
# The Celery queue that runs the turns calling a data connector, so that a slow company API
# holds up no other answer; a worker must consume it (Procfile's "connectors" process). Empty
# (the default): connectors are called in the bot's own task.
CONNECTOR_QUEUE = os.environ.get("CONNECTOR_QUEUE", "")
# --- Outbound webhooks (webhooks app, docs/webhooks.md) ------------------------------------------
# The Celery queue of the deliveries; a worker must consume it (Procfile's "webhooks" process),
# so that a slow or dead receiver holds up no bot answer. Ignored with eager Celery.
WEBHOOK_QUEUE = os.environ.get("WEBHOOK_QUEUE", "webhooks")
# Endpoints may be private or loopback addresses only with this on (a receiver on this host).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
# Retries: the first after about WEBHOOK_RETRY_BASE_SECONDS, doubling, at most the maximum
# apart (each a random half to the whole of it); an endpoint failing this long is disabled.
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 10.0)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0)
WEBHOOK_DISABLE_AFTER_SECONDS = env_float("WEBHOOK_DISABLE_AFTER_SECONDS", 86400.0)
# How long one delivery task sends before it queues itself again (other endpoints get a turn).
WEBHOOK_TASK_BUDGET_SECONDS = env_float("WEBHOOK_TASK_BUDGET_SECONDS", 30.0)

# The demo orders API (/demo/api/orders/): where load_demo's connectors call it, and its token.
DEMO_API_BASE_URL = os.environ.get(
    "DEMO_API_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '').strip() or 8000}"
).rstrip("/")
DEMO_API_TOKEN = os.environ.get("DEMO_API_TOKEN", "demo-orders-token")

# --- Knowledge imports ------------------------------------------------------------------------
# One JSON or CSV import may create at most this many new intents, and leave no intent with
# more than this many training phrases; a larger upload is refused whole, with its counts.
IMPORT_MAX_NEW_INTENTS = env_int("IMPORT_MAX_NEW_INTENTS", 500)
IMPORT_MAX_PHRASES_PER_INTENT = env_int("IMPORT_MAX_PHRASES_PER_INTENT", 5000)

# --- Chat ------------------------------------------------------------------------------------
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 2000)
# Budgets shared by every socket and process (chat.limits); over one, a frame is answered
# rate_limited with retry_after. Messages per conversation: CHAT_RATE_LIMIT_MESSAGES per
# CHAT_RATE_LIMIT_SECONDS; the others are COUNT/SECONDS.
CHAT_RATE_LIMIT_MESSAGES = env_int("CHAT_RATE_LIMIT_MESSAGES", 10)
CHAT_RATE_LIMIT_SECONDS = env_float("CHAT_RATE_LIMIT_SECONDS", 10.0)
CHAT_RATE_ADDRESS_MESSAGES = env_rate("CHAT_RATE_ADDRESS_MESSAGES", "30/10")  # per address
CHAT_RATE_CONTACT = env_rate("CHAT_RATE_CONTACT", "3/60")  # contact frames per conversation
CHAT_RATE_TYPING = env_rate("CHAT_RATE_TYPING", "30/10")  # typing frames per conversation
CHAT_RATE_FEEDBACK = env_rate("CHAT_RATE_FEEDBACK", "10/60")  # feedback frames per conversation
# Failed joins (wrong token or id) per address; over it joins from there wait for the window.
CHAT_FAILED_JOINS = env_rate("CHAT_FAILED_JOINS", "20/600")
# Open customer sockets per address; a socket counts for at most the lease (a dead process's).
CHAT_SOCKETS_PER_ADDRESS = env_int("CHAT_SOCKETS_PER_ADDRESS", 20)
CHAT_SOCKET_LEASE_SECONDS = env_int("CHAT_SOCKET_LEASE_SECONDS", 3600)
# A customer socket that has not joined a conversation this long after opening is closed.
CHAT_JOIN_DEADLINE_SECONDS = env_float("CHAT_JOIN_DEADLINE_SECONDS", 10.0)
# Agent consoles hear of new messages in a queued conversation at most once per this period.
CONSOLE_QUEUE_UPDATE_SECONDS = env_float("CONSOLE_QUEUE_UPDATE_SECONDS", 1.0)
CHAT_CONVERSATIONS_PER_IP_PER_MINUTE = env_int("CHAT_CONVERSATIONS_PER_IP_PER_MINUTE", 30)
CHAT_INACTIVITY_RESOLVE_MINUTES = env_int("CHAT_INACTIVITY_RESOLVE_MINUTES", 30)
# An answer the bot still owes this long after its message was stored (or last queued) has its
# bot task queued again by the outbox's dispatcher (a task lost with Redis, never queued while
# Redis was down, or held by a killed worker).
CHAT_OWED_ANSWER_REQUEUE_SECONDS = env_int("CHAT_OWED_ANSWER_REQUEUE_SECONDS", 15)
# With a broker, the bot's work is split into this many shards of conversations, each answered
# by one drain task at a time (chat.outbox): a burst of messages costs one task, not one each.
# At least the worker's total concurrency; the same on every process. 0: one task per message.
CHAT_BOT_DRAINS = env_int("CHAT_BOT_DRAINS", 4)
# A shard's drain mark (queued or running) lapses after this many seconds unless renewed.
CHAT_BOT_DRAIN_MARK_SECONDS = env_int("CHAT_BOT_DRAIN_MARK_SECONDS", 10)
# A conversation owed an answer this long appears in the agents' queue (the bot may be down).
CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS = env_int("CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS", 60)
# /healthz: the worker and beat must have been seen within this many seconds, and no answer
# owed for longer than HEALTH_OWED_ANSWER_MAX_SECONDS (else 503).
HEALTH_PROCESS_STALE_SECONDS = env_int("HEALTH_PROCESS_STALE_SECONDS", 60)
HEALTH_OWED_ANSWER_MAX_SECONDS = env_int("HEALTH_OWED_ANSWER_MAX_SECONDS", 120)
# Console sockets refresh their agent's presence this often; three missed beats mean offline.
CONSOLE_PRESENCE_HEARTBEAT_SECONDS = env_float("CONSOLE_PRESENCE_HEARTBEAT_SECONDS", 30.0)
CHAT_PUBLIC_ORIGIN = os.environ.get("CHAT_PUBLIC_ORIGIN", "")
# What customers see for any agent (bubbles, "... joined the conversation"): never a user name.
CHAT_AGENT_PUBLIC_NAME = os.environ.get("CHAT_AGENT_PUBLIC_NAME", "").strip() or "Support team"

# --- E-mail: replies to a customer who has left, transcripts (chat.mail, docs/email.md) ------
# SMTP when EMAIL_HOST is set; else the console backend (the embedded defaults print mails).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# Bounds how long a send holds its outbox row (and a worker): an SMTP server that hangs fails.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 15)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SupportDesk <support@localhost>")
# An agent's reply goes by e-mail when the customer left an address and has had no open chat
# socket for this long; replies within EMAIL_REPLY_BATCH_SECONDS of the first go in one mail.
EMAIL_REPLY_AFTER_MINUTES = env_int("EMAIL_REPLY_AFTER_MINUTES", 5)
EMAIL_REPLY_BATCH_SECONDS = env_int("EMAIL_REPLY_BATCH_SECONDS", 120)
# The signed link in a mail reopens the conversation for this many days.
EMAIL_LINK_MAX_AGE_DAYS = env_int("EMAIL_LINK_MAX_AGE_DAYS", 14)
# A failed send is tried again after 30 s, 60 s, 120 s ... at most this far apart, until sent.
EMAIL_RETRY_MAX_SECONDS = env_int("EMAIL_RETRY_MAX_SECONDS", 3600)
# Transcripts by e-mail a customer may ask for, per conversation.
CHAT_RATE_TRANSCRIPT = env_rate("CHAT_RATE_TRANSCRIPT", "2/3600")

# --- REST API (api) ---------------------------------------------------------------------------
# Per-user bearer tokens only (no session, so no CSRF): see docs/api.md. Each user (each token's
# owner) may make API_RATE_LIMIT requests (COUNT/SECONDS); over it the API answers 429.
API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "600/60")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiUserThrottle"],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SupportDesk API",
    "DESCRIPTION": "Conversations, messages, contacts, knowledge-base articles and reporting "
    "events, with the rights of the staff user whose token is sent: make one on /api/tokens/ "
    "and send it as `Authorization: Bearer YOUR_TOKEN` (Authorize, above). Errors are JSON: "
    "`{\"error\": code, \"message\": text}`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page describe the API and hold no data: served to anyone.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "persistAuthorization": False},
}

# --- Auth, sessions, security ---------------------------------------------------------------
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling and lockout by django-axes, on /accounts/login/ and the Django admin alike:
# LOGIN_FAILURE_LIMIT wrong passwords for one user name, or from one address, lock that name or
# address out for LOGIN_LOCKOUT_MINUTES (each further try restarts the wait). A right password
# clears the name's count. A lockout is written to the audit log.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_LOCKOUT_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "supportdesk.views.login_locked_out"
# The address is the connection's (REMOTE_ADDR): behind a proxy, run Daphne --proxy-headers.
# Successful logins and logouts are not logged by django-axes (the audit log keeps lockouts).
AXES_DISABLE_ACCESS_LOG = True

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Sent on every page by ``supportdesk.middleware``; the widget's panel (``chat.api``) sends it
# with its own frame-ancestors. Everything the pages need is served by the project itself: no
# inline script, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The widget panel is framed by customers' sites; its view lifts X-Frame-Options itself.

LANGUAGE_CODE = "en-us"
# The desk's IANA zone: the customer's "yesterday" when their widget sent no zone of its own.
TIME_ZONE = os.environ.get("TIME_ZONE", "").strip() or "UTC"
# Zones a manager may choose for their own analytics views besides TIME_ZONE (the desk's
# reporting zone); the rollup keeps one copy of its rows per zone (see analytics/zones.py).
ANALYTICS_TIME_ZONES = [
    name.strip()
    for name in os.environ.get("ANALYTICS_TIME_ZONES", "UTC").split(",")
    if name.strip()
]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Production serves hashed, compressed files made by collectstatic.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    # Outside production static files come from the finders; no collectstatic folder needed.
    warnings.filterwarnings("ignore", message="No directory at")

# The DEBUG error page (and error reports) mask passwords inside URL settings too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "supportdesk.reporting.CredentialMaskingExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 403 or bad input is logged as one line, without a traceback.
    "filters": {"client_errors": {"()": "supportdesk.reporting.ClientErrorTracebackFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"filters": ["client_errors"]},
        "django.security": {"filters": ["client_errors"]},
        "httpx": {"level": "WARNING"},
        # The Anthropic SDK's and the data connectors' client: its INFO line is the whole URL
        # (a connector's may hold a customer's e-mail address or a key).
        "httpx2": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # django-axes: failed logins and lockouts are warnings; its routine notes are not kept.
        "axes": {"level": "WARNING"},
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # Eager tasks run in the web process: a "Task ... succeeded" line every few seconds for
    # the schedule's sweeps would bury the rest (a worker's own log keeps them).
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
