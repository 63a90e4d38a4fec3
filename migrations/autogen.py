"""Generate the next Alembic revision of one package's branch: python -m migrations.autogen DOMAIN "message"."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from migrations import BRANCHES, HERE, alembic_config, upgrade


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in BRANCHES:
        raise SystemExit(f"usage: python -m migrations.autogen {{{','.join(BRANCHES)}}} 'message'")
    branch, message = argv
    folder = HERE / "versions" / branch
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'autogen.db'}"
        upgrade(url)
        config = alembic_config(url)
        config.set_main_option("version_locations", config.get_main_option("version_locations", "") + f" {folder}")
        script = ScriptDirectory.from_config(config)
        heads = [rev for rev in script.get_revisions("heads") if rev and branch in (rev.branch_labels or ())]
        existing = len(list(folder.glob("*.py")))
        rev_id = f"{branch}_{existing + 1:04d}"
        if heads:
            command.revision(
                config,
                message=message,
                autogenerate=True,
                rev_id=rev_id,
                head=f"{branch}@head",
                version_path=str(folder),
            )
        else:
            command.revision(
                config,
                message=message,
                autogenerate=True,
                rev_id=rev_id,
                head="base",
                branch_label=branch,
                depends_on="core_0001",
                version_path=str(folder),
            )


if __name__ == "__main__":
    main(sys.argv[1:])
