#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Prints password-hash test vectors made by Django itself (Debian's python3-django 3.2 with
# python3-argon2, i.e. argon2-cffi 21.1 on libargon2), pasted into
# tests/unit/auth/test_password.c. Each hash is checked with Django's check_password() before
# it is printed. Run: /usr/bin/python3 tools/gen-password-vectors.py
# With arguments PASSWORD ENCODED, it instead prints whether Django's check_password() accepts
# them and whether Django would re-hash: a way to try hashes made by hiroba.
import sys

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
django.setup()

import argon2  # noqa: E402
from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    PBKDF2PasswordHasher,
    check_password,
    make_password,
)


class SmallArgon2(Argon2PasswordHasher):
    """Django's hasher with hiroba's default parameters (OWASP minimum)."""

    time_cost = 2
    memory_cost = 19456
    parallelism = 1


if len(sys.argv) == 3:
    from django.contrib.auth.hashers import identify_hasher

    ok = check_password(sys.argv[1], sys.argv[2])
    print("check_password:", ok, "must_update:", identify_hasher(sys.argv[2]).must_update(sys.argv[2]))
    sys.exit(0 if ok else 1)


def show(name, password, encoded):
    assert check_password(password, encoded), name
    print(f"{name}: password {password!r}\n  {encoded}")


# pbkdf2_sha256 at Django 3.2's default (260000) and with few iterations.
show("pbkdf2 default", "correct horse", make_password("correct horse", hasher="pbkdf2_sha256"))
pbkdf2 = PBKDF2PasswordHasher()
show("pbkdf2 1000", "pässwörd", pbkdf2.encode("pässwörd", pbkdf2.salt(), iterations=1000))
show("pbkdf2 1 empty", "", pbkdf2.encode("", "seasalt", iterations=1))

# argon2id with Django's defaults (t=2, m=102400, p=8) and with hiroba's.
show("argon2id django", "correct horse", make_password("correct horse", hasher="argon2"))
small = SmallArgon2()
show("argon2id small", "日本語のパスワード", small.encode("日本語のパスワード", small.salt()))

# argon2i as Django before 3.2 wrote it (Django 3.1: type I, t=2, m=512, p=2, 16-byte output).
def legacy(password, version):
    data = argon2.low_level.hash_secret(
        password.encode(), b"legacysaltvalue", time_cost=2, memory_cost=512, parallelism=2,
        hash_len=16, type=argon2.low_level.Type.I, version=version)
    return "argon2" + data.decode("ascii")


show("argon2i v=19", "legacy", legacy("legacy", 19))
v16 = legacy("legacy", 16)
show("argon2i v=16", "legacy", v16)
# Argon2 1.0 strings carried no version field; argon2-cffi reads them as v=16.
show("argon2i no v", "legacy", v16.replace("$v=16", ""))

unusable = make_password(None)
assert not check_password("", unusable)
print("unusable:", unusable)
