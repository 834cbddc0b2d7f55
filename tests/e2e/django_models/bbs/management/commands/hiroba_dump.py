# SPDX-License-Identifier: MIT
"""Prints every row hiroba and Django share, read through Django's ORM, as one JSON object.

Datetimes are ISO-8601 in UTC, so a test can compare them with what hiroba wrote. Reading through
the ORM (not raw SQL) proves Django can load hiroba's rows: its datetime converters, its foreign
keys and SimpleJWT's token models all see them."""
import json
from datetime import timezone as dt_timezone

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from bbs.models import Category, Reply, Topic
from chat.models import ChatLog, Room


def iso(value):
    return None if value is None else value.astimezone(dt_timezone.utc).isoformat()


class Command(BaseCommand):
    help = "Dump the shared tables as JSON (interop tests)."

    def handle(self, *args, **options):
        out = {
            "users": [
                {"id": u.id, "username": u.username, "email": u.email, "is_staff": u.is_staff,
                 "is_active": u.is_active, "is_superuser": u.is_superuser,
                 "password": u.password, "date_joined": iso(u.date_joined),
                 "last_login": iso(u.last_login)}
                for u in User.objects.order_by("id")
            ],
            "categories": [{"id": c.id, "name": c.name} for c in Category.objects.order_by("id")],
            "topics": [
                {"id": t.id, "category": t.category_id, "created_at": iso(t.created_at),
                 "comment": t.comment}
                for t in Topic.objects.order_by("id")
            ],
            "replies": [
                {"id": r.id, "topic": r.topic_id, "created_at": iso(r.created_at),
                 "comment": r.comment}
                for r in Reply.objects.order_by("id")
            ],
            "rooms": [
                {"id": r.id, "created_at": iso(r.created_at), "name": r.name,
                 "headcount": r.headcount}
                for r in Room.objects.order_by("id")
            ],
            "chatlogs": [
                {"id": m.id, "created_at": iso(m.created_at), "message": m.message,
                 "room": m.room_id}
                for m in ChatLog.objects.order_by("id")
            ],
            "outstanding": [
                {"jti": t.jti, "user": t.user_id, "token": t.token,
                 "created_at": iso(t.created_at), "expires_at": iso(t.expires_at),
                 "blacklisted": BlacklistedToken.objects.filter(token=t).exists()}
                for t in OutstandingToken.objects.order_by("id")
            ],
        }
        self.stdout.write(json.dumps(out, ensure_ascii=False, sort_keys=True))
