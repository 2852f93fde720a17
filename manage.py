#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys


def main() -> None:
    from infantino_site.env import load_env_file

    load_env_file()  # .env in the repository root (or INFANTINO_ENV_FILE); the real environment wins
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
