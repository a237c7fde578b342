#!/usr/bin/env python
"""Back up or restore the database and data files of this installation (the mode follows the environment).

.venv/bin/python scripts/backup.py create [--to DIR]     # default DIR: var/backups
.venv/bin/python scripts/backup.py restore ARCHIVE        # stop the web processes and workers first
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_site.settings")


def main() -> int:
    import django

    django.setup()
    from django.conf import settings

    from pdm_site.backup import BackupError, backup, restore

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create")
    create.add_argument("--to", type=Path, default=settings.VAR_DIR / "backups")
    undo = commands.add_parser("restore")
    undo.add_argument("archive", type=Path)
    args = parser.parse_args()
    try:
        if args.command == "create":
            print(backup(args.to))
        else:
            manifest = restore(args.archive)
            print(f"restored the {manifest['mode']}-mode backup made at {manifest['created_at']}")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
