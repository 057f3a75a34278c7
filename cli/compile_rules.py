"""`onestop compile-rules`: build the settlement modules of policies/ to C with mypyc."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import click

from policies import compiled

PACKAGE_DIR = compiled.PACKAGE_DIR
ROOT = PACKAGE_DIR.parent


@click.command("compile-rules")
@click.option("--clean", is_flag=True, help="remove the compiled rules: the Python source runs")
def compile_rules(clean: bool) -> None:
    """Build the rules that settle a claim (policies/: schedule, conditions, identity, payer,
    settle, year, replay) to C extensions with mypyc, next to their source. The same code, about
    twice as fast; used only while every source is the one compiled (policies/compiled.py), so
    an edited rule runs as written until this is run again. Needs `pip install -e '.[compiled]'`
    and a C compiler."""
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
            os.replace(extension, PACKAGE_DIR / extension.name)
    build_file.write_text(json.dumps({"python": sys.implementation.cache_tag, "sources": hashes}, indent=1) + "\n",
                          encoding="utf-8")
    click.echo(f"compiled {', '.join(modules)} in {time.perf_counter() - began:.0f} s: {len(built)} extensions in {PACKAGE_DIR}")


def _build(mypycify, setup, modules: tuple[str, ...], scratch: Path) -> list[Path]:
    sources = [f"policies/{name}.py" for name in modules]
    here = Path.cwd()
    os.chdir(ROOT)  # (mypyc names modules by their path from the package's parent)
    sys.path.insert(0, str(ROOT))
    try:
        setup(name="onestop-rules", packages=[], script_args=[
                  "--quiet", "build_ext", "--build-lib", str(scratch / "lib"), "--build-temp", str(scratch / "temp")],
              ext_modules=mypycify(["--ignore-missing-imports", "--follow-imports=silent", "--cache-dir", str(scratch / "mypy"),
                                    *sources], group_name="policies._rules", target_dir=str(scratch / "c")))
    except SystemExit as failed:  # (setuptools reports a failed build by exiting)
        raise click.ClickException(f"the build failed: {failed}") from None
    finally:
        sys.path.remove(str(ROOT))
        os.chdir(here)
    return sorted((scratch / "lib" / "policies").glob("*.so"))


def _remove_extensions(modules: tuple[str, ...]) -> int:
    found = [p for name in (*modules, "_rules__mypyc") for p in PACKAGE_DIR.glob(f"{name}.*.so")]
    for path in found:
        path.unlink()
    return len(found)


COMMANDS = [compile_rules]
