# SPDX-License-Identifier: MIT
"""Accounts and JWT auth (API.md §2.8, §3, §7.1, §7.5) through the real binary with requests:
exact bodies for every status, forged tokens, rotation races, throttling, and SimpleJWT interop."""
import base64
import hashlib
import hmac
import json
import threading
import time

import requests

from conftest import SECRET

PW = "correct horse 1"


def register(s, username="alice", password=PW, email="alice@example.com"):
    r = requests.post(s.url + "/api/register/", json={
        "username": username, "email": email, "password": password, "password_confirm": password})
    assert r.status_code == 201, r.text
    assert r.json() == {"message": "会員登録完了"}


def login(s, username="alice", password=PW):
    r = requests.post(s.url + "/api/token/", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["refresh", "access"]
    return r.json()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload, key=SECRET, header=None):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(json.dumps(payload).encode())
    sig = hmac.new(key.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64(sig)


def claims(token):
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def me(s, token, scheme="Bearer"):
    return requests.get(s.url + "/api/me/", headers={"Authorization": scheme + " " + token})


def invalid_body(reason):
    return {"detail": "Given token not valid for any token type", "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access", "message": reason}]}


def test_register_login_me(server):
    register(server)
    t = login(server)
    r = me(server, t["access"])
    assert r.status_code == 200
    assert r.json() == {"id": 1, "username": "alice", "email": "alice@example.com",
                        "is_staff": False}
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
    a, f = claims(t["access"]), claims(t["refresh"])
    assert list(a) == ["token_type", "exp", "iat", "jti", "user_id"]
    assert a["token_type"] == "access" and f["token_type"] == "refresh"
    assert a["iat"] == f["iat"] and a["user_id"] == 1
    assert f["exp"] - f["iat"] == 7 * 24 * 3600 and a["exp"] - a["iat"] == 120
    assert len(a["jti"]) == 32 and a["jti"] != f["jti"]


def test_register_validation(server):
    url = server.url + "/api/register/"
    r = requests.post(url, json={})
    assert r.status_code == 400
    assert r.json() == {"username": ["この項目は必須です。"], "password": ["この項目は必須です。"],
                        "password_confirm": ["この項目は必須です。"]}
    r = requests.post(url, json={"username": "bad name!", "email": "nope", "password": "short",
                                 "password_confirm": "short"})
    assert r.json() == {
        "username": ["有効なユーザー名を入力してください。半角英数、 @/./+/-/_ を使用できます。"],
        "email": ["有効なメールアドレスを入力してください。"],
        "password": ["この項目は少なくとも8文字以上にしてください。"],
        "password_confirm": ["この項目は少なくとも8文字以上にしてください。"]}
    r = requests.post(url, json={"username": "bob", "password": "password1",
                                 "password_confirm": "password2"})
    assert r.status_code == 400
    assert r.json() == {"password": ["パスワードが一致していません"]}
    register(server, "bob", email="")
    r = requests.post(url, json={"username": "bob", "password": "password1",
                                 "password_confirm": "password1"})
    assert r.json() == {"username": ["同じユーザー名が既に登録済みです。"]}
    r = requests.post(url, json={"username": "x" * 151, "password": "password1",
                                 "password_confirm": "password1"})
    assert r.json() == {"username": ["この項目が150文字より長くならないようにしてください。"]}
    # Unicode letters are fine; the email domain is lower-cased.
    register(server, "山田_太郎", email="Taro@EXAMPLE.jp")
    t = login(server, "山田_太郎")
    assert me(server, t["access"]).json()["email"] == "Taro@example.jp"
    r = requests.get(url)
    assert r.status_code == 405 and r.headers["Allow"] == "POST, OPTIONS"


def test_login_errors(server):
    register(server)
    url = server.url + "/api/token/"
    r = requests.post(url, json={})
    assert r.status_code == 400
    assert r.json() == {"username": ["この項目は必須です。"], "password": ["この項目は必須です。"]}
    r = requests.post(url, json={"username": " ", "password": ""})
    assert r.json() == {"username": ["この項目は空にできません。"],
                        "password": ["この項目は空にできません。"]}
    r = requests.post(url, json={"username": None, "password": ["x"]})
    assert r.json() == {"username": ["この項目はnullにできません。"],
                        "password": ["Not a valid string."]}
    for body in ({"username": "alice", "password": "wrong"},
                 {"username": "nobody", "password": PW},
                 {"username": "alice", "password": PW + " "}):  # the password is not trimmed
        r = requests.post(url, json=body)
        assert r.status_code == 401
        assert r.json() == {"detail": "No active account found with the given credentials"}
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    # The username is trimmed; form bodies work too.
    r = requests.post(url, data={"username": "  alice ", "password": PW})
    assert r.status_code == 200
    r = requests.post(url, data="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json() == {"detail": "リクエストのメディアタイプ \"text/plain\" はサポートされていません。"}
    r = requests.post(url, data='{"username": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error - ")
    r = requests.post(url, data="null", headers={"Content-Type": "application/json"})
    assert r.json() == {"non_field_errors": ["No data provided"]}


def test_authorization_header_rules(server):
    register(server)
    t = login(server)
    r = requests.get(server.url + "/api/me/")
    assert r.status_code == 401
    assert r.json() == {"detail": "認証情報が含まれていません。"}
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    for scheme in ("Token", "bearer"):
        assert me(server, t["access"], scheme).json() == {"detail": "認証情報が含まれていません。"}
    r = requests.get(server.url + "/api/me/", headers={"Authorization": "Bearer"})
    assert r.json() == {"detail": "Authorization header must contain two space-delimited values",
                        "code": "bad_authorization_header"}
    r = requests.get(server.url + "/api/me/", headers={"Authorization": "Bearer a b"})
    assert r.json()["code"] == "bad_authorization_header"
    assert me(server, t["refresh"]).json() == invalid_body("Token has wrong type")
    assert me(server, "garbage").json() == invalid_body("Token is invalid or expired")


def test_forged_tokens(server):
    register(server)
    now = int(time.time())
    good = {"token_type": "access", "exp": now + 60, "iat": now, "jti": "a" * 32, "user_id": 1}
    assert me(server, forge(good)).status_code == 200
    bad = [
        forge(good, key="another-key-that-is-also-long-enough-000"),
        forge(dict(good, exp=now - 1)),
        forge(good, header={"alg": "HS512", "typ": "JWT"}),
        forge(good, header={"alg": "none", "typ": "JWT"}),
        b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(good).encode()) + ".",
    ]
    tampered = forge(good).split(".")
    tampered[1] = b64(json.dumps(dict(good, user_id=2)).encode())
    bad.append(".".join(tampered))
    for tok in bad:
        r = me(server, tok)
        assert r.status_code == 401, tok
        assert r.json() == invalid_body("Token is invalid or expired")
    no_exp = dict(good)
    del no_exp["exp"]
    assert me(server, forge(no_exp)).json() == invalid_body("Token has no 'exp' claim")
    no_user = dict(good)
    del no_user["user_id"]
    assert me(server, forge(no_user)).json() == {
        "detail": "Token contained no recognizable user identification", "code": "token_not_valid"}
    assert me(server, forge(dict(good, user_id=99))).json() == {
        "detail": "User not found", "code": "user_not_found"}


def test_inactive_user(server):
    register(server)
    t = login(server)
    server.sql("UPDATE auth_user SET is_active = false")
    assert me(server, t["access"]).json() == {"detail": "User is inactive",
                                              "code": "user_inactive"}
    r = requests.post(server.url + "/api/token/refresh/", json={"refresh": t["refresh"]})
    assert r.status_code == 401
    assert r.json() == {"detail": "No active account found for the given token."}
    r = requests.post(server.url + "/api/token/", json={"username": "alice", "password": PW})
    assert r.status_code == 401


def test_refresh_rotation_and_blacklist(server):
    register(server)
    t = login(server)
    url = server.url + "/api/token/refresh/"
    r = requests.post(url, json={"refresh": t["refresh"]})
    assert r.status_code == 200
    assert list(r.json()) == ["access", "refresh"]
    new = r.json()
    assert claims(new["access"])["iat"] == claims(t["refresh"])["iat"]  # copied from the refresh
    assert new["refresh"] != t["refresh"]
    r = requests.post(url, json={"refresh": t["refresh"]})
    assert r.status_code == 401
    assert r.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}
    r = requests.post(url, json={"refresh": new["access"]})
    assert r.json() == {"detail": "Token has wrong type", "code": "token_not_valid"}
    r = requests.post(url, json={"refresh": 123})
    assert r.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    assert requests.post(url, json={}).json() == {"refresh": ["この項目は必須です。"]}
    assert requests.post(url, json={"refresh": ""}).json() == {"refresh": ["この項目は空にできません。"]}
    assert requests.post(url, json={"refresh": None}).json() == {
        "refresh": ["この項目はnullにできません。"]}


def test_concurrent_refresh_exactly_one_wins(server):
    register(server)
    for _ in range(5):
        t = login(server)
        results = []
        barrier = threading.Barrier(4)

        def go():
            barrier.wait()
            r = requests.post(server.url + "/api/token/refresh/", json={"refresh": t["refresh"]})
            results.append((r.status_code, r.json()))

        threads = [threading.Thread(target=go) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        codes = sorted(c for c, _ in results)
        assert codes == [200, 401, 401, 401], results
        for c, body in results:
            if c == 401:
                assert body == {"detail": "Token is blacklisted", "code": "token_not_valid"}


def test_verify(server):
    register(server)
    t = login(server)
    url = server.url + "/api/token/verify/"
    assert requests.post(url, json={"token": t["access"]}).json() == {}
    assert requests.post(url, json={"token": t["refresh"]}).json() == {}
    r = requests.post(url, json={"token": "x"})
    assert r.status_code == 401
    assert r.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    requests.post(server.url + "/api/token/refresh/", json={"refresh": t["refresh"]})
    r = requests.post(url, json={"token": t["refresh"]})
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Token is blacklisted"]}
    assert requests.post(url, json={}).json() == {"token": ["この項目は必須です。"]}


def test_logout(server):
    register(server)
    t = login(server)
    url = server.url + "/api/logout/"
    auth = {"Authorization": "Bearer " + t["access"]}
    assert requests.post(url, json={"refresh": t["refresh"]}).status_code == 401
    r = requests.post(url, json={}, headers=auth)
    assert r.status_code == 400 and r.json() == {"refresh": ["この項目は必須です。"]}
    r = requests.post(url, json=[1], headers=auth)
    assert r.json() == {"refresh": ["この項目は必須です。"]}
    assert requests.post(url, json={"refresh": ""}, headers=auth).json() == {
        "error": "Token is invalid or expired"}
    assert requests.post(url, json={"refresh": t["access"]}, headers=auth).json() == {
        "error": "Token has wrong type"}
    r = requests.post(url, json={"refresh": t["refresh"]}, headers=auth)
    assert r.status_code == 200 and r.json() == {"message": "ログアウト成功しました"}
    r = requests.post(url, json={"refresh": t["refresh"]}, headers=auth)
    assert r.json() == {"error": "Token is blacklisted"}
    # The access token keeps working until it expires; the refresh token is dead.
    assert me(server, t["access"]).status_code == 200
    r = requests.post(server.url + "/api/token/refresh/", json={"refresh": t["refresh"]})
    assert r.json()["detail"] == "Token is blacklisted"


def test_login_throttle(server):
    register(server)
    url = server.url + "/api/token/"
    for _ in range(10):
        assert requests.post(url, json={"username": "alice", "password": "x"}).status_code == 401
    r = requests.post(url, json={"username": "alice", "password": PW})
    assert r.status_code == 429
    n = int(r.headers["Retry-After"])
    assert 890 <= n <= 900
    assert r.json() == {
        "detail": "リクエストの処理は絞られました。 Expected available in %d seconds." % n}
    # Another account from the same address is not locked out.
    register(server, "bob")
    assert requests.post(url, json={"username": "bob", "password": PW}).status_code == 200


def test_simplejwt_interop(server):
    """Tokens minted by SimpleJWT with the same key are accepted, and hiroba's validate there."""
    import rest_framework_simplejwt as sj
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(SECRET_KEY=SECRET, INSTALLED_APPS=["django.contrib.auth",
                           "django.contrib.contenttypes", "rest_framework_simplejwt"],
                           DATABASES={}, USE_TZ=True)
        django.setup()
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken
    register(server)

    class U:
        id = 1
        pk = 1
    access = str(RefreshToken.for_user(U()).access_token)
    assert me(server, access).status_code == 200
    t = login(server)
    assert AccessToken(t["access"])["user_id"] == 1
    assert UntypedToken(t["refresh"])["token_type"] == "refresh"
    assert sj is not None
