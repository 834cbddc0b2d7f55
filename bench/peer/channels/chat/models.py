# SPDX-License-Identifier: MIT
"""The seed stack's chat models (API.md §9: chat_room, chat_chatlog)."""
from django.conf import settings
from django.db.backends.signals import connection_created
from django.db import models
from django.dispatch import receiver
from django.utils import timezone


class Room(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    name = models.CharField(max_length=200, unique=True)
    headcount = models.IntegerField(default=0)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)


class ChatLog(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE)
    message = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)


@receiver(connection_created)
def same_sqlite_settings_as_hiroba(sender, connection, **kwargs):
    """hiroba's SQLite runs in WAL mode with synchronous=NORMAL (no fsync per commit); Django's
    defaults (rollback journal, FULL) would make the peer wait on the disk for every message and
    the comparison would measure the disk, not the servers."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
