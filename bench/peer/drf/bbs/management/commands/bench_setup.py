# SPDX-License-Identifier: MIT
"""Creates the bench user, one category and N topics, and prints an access token for the user."""
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.tokens import AccessToken

from bbs.models import Category, Topic


class Command(BaseCommand):
    help = "Seed the peer for bench/api.sh and print an access token."

    def add_arguments(self, parser):
        parser.add_argument("--topics", type=int, default=100)

    def handle(self, *args, **options):
        user = User.objects.create_user("bench", "", "bench-password")
        category = Category.objects.create(name="bench")
        Topic.objects.bulk_create(
            Topic(category=category, comment="topic %d: ベンチマーク用の書き込み" % i)
            for i in range(options["topics"]))
        self.stdout.write(str(AccessToken.for_user(user)))
