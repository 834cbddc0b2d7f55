# SPDX-License-Identifier: MIT
"""The seed stack's chat models. Field order is the table's column order (API.md §9)."""
from django.db import models
from django.utils import timezone


class Room(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    name = models.CharField(verbose_name="部屋名", max_length=200, unique=True)
    headcount = models.PositiveIntegerField(default=0)


class ChatLog(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    message = models.CharField(max_length=200)
    room = models.ForeignKey(Room, on_delete=models.CASCADE)
