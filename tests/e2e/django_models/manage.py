#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A minimal Django project with the seed stack's models (API.md §9), for interop tests.

Usage: HIROBA_DJANGO_DB=/path/db.sqlite3 manage.py migrate
       HIROBA_DJANGO_DB=/path/db.sqlite3 manage.py hiroba_dump   (rows as JSON, read through the ORM)
       HIROBA_DJANGO_DB=/path/db.sqlite3 manage.py hiroba_seed   (a few rows written by Django)
HIROBA_DJANGO_DB defaults to ./django.sqlite3."""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hiroba_django.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
