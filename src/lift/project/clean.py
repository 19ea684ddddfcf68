"""Old artifact versions removed, the newest kept: ``python -m lift.project.clean --keep 3``
(``make clean``). Every run writes new versions and overwrites none
(``<data_root>/<layer>/.../<artifact>/<version>/<file>``), so ``data/`` grows with each run;
this removes, per artifact, every version but the newest ``keep``. Only folders named as Kedro
names versions are touched; nothing else under ``data_root`` is."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

# Kedro's version names: the run's UTC timestamp, e.g. 2026-12-02T13.05.24.167Z
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


def versioned_artifacts(root: Path) -> Iterator[tuple[Path, list[Path]]]:
    """Each versioned artifact's folder under ``root`` with its versions, oldest first."""
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        versions = sorted(p for p in folder.iterdir() if p.is_dir() and VERSION.match(p.name))
        if versions:
            yield folder, versions


def clean(root: Path, keep: int, dry_run: bool = False) -> list[Path]:
    """Remove every version of each artifact under ``root`` but the newest ``keep``; the
    versions removed (or that would be, with ``dry_run``)."""
    if keep < 1:
        raise ValueError(f"--keep is {keep}: keep at least the newest version (1 or more).")
    removed = []
    for _, versions in list(versioned_artifacts(root)):
        for version in versions[:-keep]:
            removed.append(version)
            if not dry_run:
                shutil.rmtree(version)
    return removed


def data_root(project: Path, env: str = "local") -> Path:
    """The project's ``data_root`` (``conf/base/globals.yml``, an environment's over it)."""
    value = "data"
    for layer in ("base", env):
        globals_file = project / "conf" / layer / "globals.yml"
        if globals_file.is_file():
            value = (yaml.safe_load(globals_file.read_text()) or {}).get("data_root", value)
    if "://" in str(value):
        raise SystemExit(
            f"data_root is {value!r}: clean removes local versions only; remove old versions on "
            "that storage with its own tools."
        )
    return project / value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lift.project.clean", description=__doc__)
    parser.add_argument("--keep", type=int, default=3, help="newest versions kept per artifact")
    parser.add_argument("--env", default="local", help="the Kedro environment whose data_root")
    parser.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    args = parser.parse_args(argv)
    root = data_root(Path.cwd(), args.env)
    if not root.is_dir():
        print(f"Nothing to clean: {root} does not exist.")
        return 0
    try:
        removed = clean(root, args.keep, args.dry_run)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    size = "would be removed" if args.dry_run else "removed"
    for version in removed:
        print(f"{size}: {version.relative_to(root)}")
    print(f"{len(removed)} old versions {size} under {root}; the newest {args.keep} kept.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
