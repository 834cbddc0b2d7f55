# SPDX-License-Identifier: MIT
"""Django interop for the BBS and chat resources (API.md §9): a database created by Django's
migrate and filled through its ORM is served by hiroba, rows hiroba writes read back through the
ORM, and rows Django writes or deletes later are seen by hiroba (search index included). Uses the
minimal project in tests/e2e/django_models with Debian's python3-django."""
import json
import os
import subprocess

import pytest

from test_bbs import PW, WHEN, Client, login, user_id

DJANGO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "django_models")


def manage(db, *args):
    env = dict(os.environ, HIROBA_DJANGO_DB=db, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run(["/usr/bin/python3", "manage.py"] + list(args), cwd=DJANGO_DIR, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def orm(db, code):
    """Runs Python code in Django's shell (the ORM, as the stack's own code would use it)."""
    return manage(db, "shell", "-c", code)


@pytest.fixture
def django(tmp_path, server_factory):
    """Django creates and seeds the database, then hiroba serves it."""
    db = str(tmp_path / "django.sqlite3")
    manage(db, "migrate", "--noinput")
    assert manage(db, "hiroba_seed").strip() == "seeded"
    url = "sqlite:///" + db
    # hiroba adds its parts (author_id columns, the search index) to the database at startup.
    server = server_factory(args=["--database", url, "--access-ttl", "3600"])
    env = dict(server.env, HIROBA_SUPERUSER_PASSWORD=PW)
    subprocess.run([server.bin, "createsuperuser", "--database", url, "--username", "root",
                    "--email", "root@example.com"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    token = login(server, "root")
    staff = Client(server, "root", token, user_id(server, token))
    token = login(server, "django_user", "django-password-1")
    user = Client(server, "django_user", token, user_id(server, token))
    return db, staff, user


def test_hiroba_serves_django_rows(django):
    db, staff, user = django
    assert user.ok("GET", "/api/categories/") == [{"id": 1, "name": "Django の部屋",
                                                   "author": None}]
    topic = {"id": 1, "category": 1, "created_at": WHEN, "comment": "written by Django 東京タワー",
             "author": None}
    assert user.ok("GET", "/api/topics/") == [topic]
    assert user.ok("GET", "/api/topics/?search=東京タワー") == [topic]
    assert user.ok("GET", "/api/topics/?search=django&category=1") == [topic]
    reply = {"id": 1, "topic": 1, "created_at": WHEN, "comment": "a reply", "author": None}
    assert user.ok("GET", "/api/replies/?id=1") == [reply]
    assert user.ok("GET", "/api/topics/1/replies/") == [reply]
    assert user.ok("GET", "/api/replies/1/") == reply
    assert user.ok("GET", "/api/rooms/") == [{"id": 1, "created_at": WHEN, "name": "django-room",
                                              "headcount": 0, "author": None}]
    assert user.ok("GET", "/api/rooms/1/chatlogs/") == [
        {"id": 1, "created_at": WHEN, "message": "hello from django", "room": 1, "author": None}]
    # Rows without an author are staff-only.
    assert user.patch("/api/topics/1/", {"comment": "mine"}).status_code == 403
    assert staff.ok("PATCH", "/api/topics/1/", {"comment": "edited by staff"})["author"] is None
    assert user.put("/api/rooms/1/", {"name": "x"}).status_code == 403


def test_django_reads_hiroba_rows(django):
    db, staff, user = django
    cat = user.ok("POST", "/api/categories/", {"name": "hiroba の部屋"})
    topic = user.ok("POST", "/api/topics/", {"category": str(cat["id"]), "comment": "from hiroba",
                                             "created_at": "2025-01-14T08:56:12.5+09:00"})
    reply = user.ok("POST", "/api/replies/", {"topic": str(topic["id"]), "comment": "返信"})
    room = user.ok("POST", "/api/rooms/", {"name": "hiroba-room", "headcount": 2,
                                           "created_at": "2025年01月14日 08時56分12秒"})
    user.ok("PATCH", "/api/replies/%d/" % reply["id"], {"created_at": "2025-01-13T23:56:12Z"})
    # Django's topic and its reply go with staff's delete.
    staff.ok("DELETE", "/api/topics/1/")
    dump = json.loads(manage(db, "hiroba_dump"))
    assert dump["categories"] == [{"id": 1, "name": "Django の部屋"},
                                  {"id": cat["id"], "name": "hiroba の部屋"}]
    assert dump["topics"] == [{"id": topic["id"], "category": cat["id"],
                               "created_at": "2025-01-13T23:56:12.500000+00:00",
                               "comment": "from hiroba"}]
    assert dump["replies"] == [{"id": reply["id"], "topic": topic["id"],
                                "created_at": "2025-01-13T23:56:12+00:00", "comment": "返信"}]
    assert dump["rooms"][1] == {"id": room["id"], "created_at": "2025-01-13T23:56:12+00:00",
                                "name": "hiroba-room", "headcount": 2}
    # The ORM follows hiroba's foreign keys.
    out = orm(db, "from bbs.models import Reply; r = Reply.objects.get(pk=%d); "
                  "print(r.topic.category.name)" % reply["id"])
    assert out.strip() == "hiroba の部屋"


def test_hiroba_sees_later_django_writes(django):
    db, staff, user = django
    hiroba_topic = user.ok("POST", "/api/topics/", {"category": 1, "comment": "hiroba side"})
    user.ok("POST", "/api/replies/", {"topic": hiroba_topic["id"], "comment": "x"})
    orm(db, "from bbs.models import Category, Topic; "
            "Topic.objects.create(category=Category.objects.get(pk=1), comment='later 富士山')")
    got = user.ok("GET", "/api/topics/?search=富士山")
    assert [t["comment"] for t in got] == ["later 富士山"] and got[0]["author"] is None
    # Django's own cascade (in Python) removes hiroba's rows too; hiroba sees them gone.
    orm(db, "from bbs.models import Category; Category.objects.filter(pk=1).delete()")
    assert user.ok("GET", "/api/topics/") == []
    assert user.get("/api/topics/%d/" % hiroba_topic["id"]).status_code == 404
    assert user.ok("GET", "/api/topics/%d/replies/" % hiroba_topic["id"]) == []
    # A room name Django holds is taken for hiroba too.
    r = user.post("/api/rooms/", {"name": "django-room"})
    assert r.status_code == 400
    assert r.json() == {"name": ["この 部屋名 を持った room が既に存在します。"]}
