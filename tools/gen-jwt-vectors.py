#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Prints JWT test vectors minted by djangorestframework-simplejwt (Debian's
# python3-djangorestframework-simplejwt 5.2.2 on python3-jwt 2.6.0), pasted into
# tests/unit/auth/test_jwt.c. The claims are fixed (exp in the year 2100) so hb_jwt_encode()
# must reproduce the access and refresh tokens byte for byte.
# Run: /usr/bin/python3 tools/gen-jwt-vectors.py
# With arguments, it instead checks that SimpleJWT accepts each argument as a token (signed with
# the same secret) and prints its payload: a way to try tokens minted by hiroba.
import sys

import django
from django.conf import settings

SECRET = "hiroba-test-secret-key-0123456789-abcdefghij"  # 44 bytes

settings.configure(
    SECRET_KEY=SECRET,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "rest_framework_simplejwt.token_blacklist",
    ],
    USE_TZ=True,
)
django.setup()

import jwt  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken  # noqa: E402

EXP_2100 = 4102444800  # 2100-01-01T00:00:00Z
IAT = 1736812452


def mint(cls, jti, user_id, exp=EXP_2100, iat=IAT):
    t = cls()
    t["exp"] = exp
    t["iat"] = iat
    t["jti"] = jti
    t["user_id"] = user_id
    return str(t)


if len(sys.argv) > 1:
    for arg in sys.argv[1:]:
        print(UntypedToken(arg).payload)
    sys.exit(0)

print("secret:", SECRET)
access = mint(AccessToken, "0123456789abcdef0123456789abcdef", 42)
print("access user 42:", access)
refresh = mint(RefreshToken, "fedcba9876543210fedcba9876543210", 7)
print("refresh user 7:", refresh)
# SimpleJWT's own jti (uuid4().hex) and current iat, exp moved to 2100.
t = RefreshToken()
t["exp"] = EXP_2100
t["user_id"] = 1
print("refresh default jti:", str(t), t["jti"], t["iat"])
print("access user '42' (string id):", mint(AccessToken, "00000000000000000000000000000001", "42"))
print("access expired 2025-01-14:", mint(AccessToken, "00000000000000000000000000000002", 3,
                                         exp=1736812572))
# Check they all verify in SimpleJWT itself (UntypedToken: any type).
AccessToken(access)
UntypedToken(refresh)  # RefreshToken() would query the blacklist table: no database here
# PyJWT with another algorithm over the same claims: must be refused.
payload = {"token_type": "access", "exp": EXP_2100, "iat": IAT,
           "jti": "0123456789abcdef0123456789abcdef", "user_id": 42}
print("HS512:", jwt.encode(payload, SECRET, algorithm="HS512"))
print("none:", jwt.encode(payload, None, algorithm="none"))
