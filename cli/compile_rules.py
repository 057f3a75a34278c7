"""`onestop compile-rules`: build the modules a claim's settlement runs through to C with mypyc."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click

from schemas import compiled

ROOT = compiled.ROOT


@click.command("compile-rules")
@click.option("--clean", is_flag=True, help="remove the compiled rules: the Python source runs")
def compile_rules(clean: bool) -> None:
    """Build the modules that settle a claim (policies/ schedule, conditions, identity, applicable,
    accounts, payer, settle, year, replay; schemas/ money, trusted) to C extensions with mypyc, next to their
    source. The same code, a third to a half faster; used only while every source is the one
    compiled (schemas/compiled.py), so an edited rule runs as written until this is run again.
    Needs `pip install -e '.[compiled]'` and a C compiler."""
    modules, build_file = compiled.COMPILED_MODULES, compiled.BUILD_FILE
    if clean:
        removed = _remove_extensions(modules)
        build_file.unlink(missing_ok=True)
        click.echo(f"removed {removed} compiled files; the rules run from their source")
        return
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError:
        raise click.ClickException("mypyc is not installed: pip install -e '.[compiled]'") from None
    hashes = compiled.source_hashes()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onestop-rules-") as scratch:
        built = _build(mypycify, setup, modules, Path(scratch))
        for extension in built:  # (a rename: a process running the rules keeps the file it has loaded)
            os.replace(extension, ROOT / extension.relative_to(Path(scratch) / "lib"))
    build_file.write_text(
        json.dumps({"python": sys.implementation.cache_tag, "sources": hashes}, indent=1) + "\n", encoding="utf-8"
    )
    click.echo(
        f"compiled {', '.join(modules)} in {time.perf_counter() - began:.0f} s: {len(built)} extensions in {ROOT}"
    )


def _build(mypycify, setup, modules: tuple[str, ...], scratch: Path) -> list[Path]:
    sources = [str(compiled.source_of(name).relative_to(ROOT)) for name in modules]
    tree = _copy_of_the_packages(modules, scratch / "src")
    here = Path.cwd()
    os.chdir(tree)  # (mypyc names modules by their path from the package's parent)
    sys.path.insert(0, str(tree))
    try:
        setup(
            name="onestop-rules",
            packages=[],
            script_args=[
                "--quiet",
                "build_ext",
                "--build-lib",
                str(scratch / "lib"),
                "--build-temp",
                str(scratch / "temp"),
            ],
            ext_modules=mypycify(
                ["--ignore-missing-imports", "--follow-imports=silent", "--cache-dir", str(scratch / "mypy"), *sources],
                group_name="schemas._rules",
                target_dir=str(scratch / "c"),
            ),
        )
    except SystemExit as failed:  # (setuptools reports a failed build by exiting)
        raise click.ClickException(f"the build failed: {failed}") from None
    finally:
        sys.path.remove(str(tree))
        os.chdir(here)
    return sorted((scratch / "lib").glob("*/*.so"))


def _copy_of_the_packages(modules: tuple[str, ...], tree: Path) -> Path:
    """The Python files of the compiled modules' packages, copied to ``tree``: mypy reads them
    there, not where they are installed — in site-packages (the production image), beside every
    other installed module, it refuses to check them."""
    for package in sorted({name.split(".")[0] for name in modules}):
        (tree / package).mkdir(parents=True)
        for source in (ROOT / package).glob("*.py"):
            shutil.copy2(source, tree / package / source.name)
    return tree


def _remove_extensions(modules: tuple[str, ...]) -> int:
    paths = [compiled.source_of(name) for name in (*modules, "schemas._rules__mypyc", "policies._rules__mypyc")]
    found = [p for path in paths for p in path.parent.glob(f"{path.stem}.*.so")]
    for path in found:
        path.unlink()
    return len(found)


COMMANDS = [compile_rules]
