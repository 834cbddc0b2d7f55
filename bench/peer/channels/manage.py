#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Channels peer's manage.py (bench/ws.sh): migrate --run-syncdb before daphne starts."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanpeer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
