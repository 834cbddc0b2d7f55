# SPDX-License-Identifier: MIT
"""The seed stack's BBS models (as tests/e2e/django_models/bbs/models.py)."""
from django.db import models
from django.utils import timezone


class Category(models.Model):
    name = models.CharField(max_length=100)


class Topic(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    comment = models.CharField(max_length=2000)
    category = models.ForeignKey(Category, on_delete=models.CASCADE)
