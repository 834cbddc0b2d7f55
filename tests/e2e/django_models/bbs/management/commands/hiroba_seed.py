# SPDX-License-Identifier: MIT
"""Writes a few rows through Django's ORM, for hiroba to read: a user, a category with a topic and
a reply, a room with a message. Fixed values, so a test can check what hiroba shows for them."""
from datetime import datetime, timezone as dt_timezone

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from bbs.models import Category, Reply, Topic
from chat.models import ChatLog, Room

WHEN = datetime(2025, 1, 13, 23, 56, 12, tzinfo=dt_timezone.utc)  # 2025年01月14日 08時56分12秒 JST


class Command(BaseCommand):
    help = "Write fixed rows through the ORM (interop tests)."

    def handle(self, *args, **options):
        User.objects.create_user("django_user", "dj@example.com", "django-password-1")
        category = Category.objects.create(name="Django の部屋")
        topic = Topic.objects.create(category=category, comment="written by Django 東京タワー",
                                     created_at=WHEN)
        Reply.objects.create(topic=topic, comment="a reply", created_at=WHEN)
        room = Room.objects.create(name="django-room", created_at=WHEN)
        ChatLog.objects.create(room=room, message="hello from django", created_at=WHEN)
        self.stdout.write("seeded")
