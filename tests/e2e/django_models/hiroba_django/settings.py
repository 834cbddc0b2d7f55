# SPDX-License-Identifier: MIT
"""Settings of the seed stack as far as the database is concerned (API.md §1, §9)."""
import os

SECRET_KEY = os.environ.get("HIROBA_SECRET_KEY", "django-interop-test-key-0123456789abcdef")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework_simplejwt.token_blacklist",
    "bbs",
    "chat",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("HIROBA_DJANGO_DB", "django.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "ja"
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
# hiroba writes argon2id hashes (API.md §10.1); Django verifies them only with argon2-cffi.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
