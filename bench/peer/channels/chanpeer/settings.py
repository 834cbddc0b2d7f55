# SPDX-License-Identifier: MIT
"""A minimal Django + Channels deployment of the seed stack's chat, the peer hiroba's WebSocket fan-out
is measured against (bench/ws.sh): SimpleJWT login, register, rooms over DRF, and /ws/chat/<room>/
with the access token as the subprotocol, served by daphne. SQLite; the in-memory channel layer,
or channels_redis's RedisChannelLayer when REDIS_URL is set. DEBUG off, Tokyo time like the stack."""
import os
from datetime import timedelta

SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "channels-peer-secret-key-0123456789-0123456789")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "channels",
    "chat",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "chanpeer.urls"
ASGI_APPLICATION = "chanpeer.asgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PEER_DB", "peer.sqlite3"),
        # Writers queue on SQLite's lock instead of failing at once.
        "OPTIONS": {"timeout": 20},
    }
}
# The load logs in once; the default PBKDF2 costs a fraction of a second per login and nothing after.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "ja"
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
# Long enough for any bounded run (hiroba's bench gets --access-ttl 3600 too).
SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=1)}

if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
