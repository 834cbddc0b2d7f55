#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The DRF peer's manage.py (bench/api.sh): migrate --run-syncdb, then bench_setup."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drfpeer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
