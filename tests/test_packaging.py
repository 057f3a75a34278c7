"""The wheel holds the product and nothing else: its packages, their data files, and no benchmark,
test or stray folder of the checkout it was built from.

Built offline, as `pip wheel` builds it without fetching anything: no build isolation (which would
fetch setuptools and wheel from an index), the environment's setuptools and the `wheel` of the test
extra; from a copy of the checkout with two stray folders added, so that a package list matching
by prefix or taking every folder would show."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = {"cli", "console", "policies", "reports", "runtime", "schemas", "store", "streams", "workers"}
#: what a checkout holds beside the product, and build leftovers that must not reach the copy
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".onestop",
    "build",
    "*.egg-info",
    "__pycache__",
    "*.so",
    ".hypothesis",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


def built_wheel(tmp_path: Path) -> zipfile.ZipFile:
    source = tmp_path / "checkout"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    for stray in ("schemas_old", "scratch"):  # a name sharing a package's prefix, and any other folder
        (source / stray).mkdir()
        (source / stray / "__init__.py").write_text("")
    out = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, f"no wheel built (`pip install -e '.[test]'` installs `wheel`):\n{built.stderr}"
    [wheel] = out.glob("onestop-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_holds_only_the_products_packages_and_their_data(tmp_path):
    with built_wheel(tmp_path) as wheel:
        names = wheel.namelist()
    top = {name.split("/")[0] for name in names}
    assert top - {n for n in top if n.endswith(".dist-info")} == PRODUCT
    in_checkout = {path.relative_to(ROOT).as_posix() for package in PRODUCT for path in (ROOT / package).rglob("*.py")}
    assert {n for n in names if n.endswith(".py")} == in_checkout  # every module of every subpackage
    assert any(n.startswith("policies/regions/") and n.endswith(".yaml") for n in names)  # the rules' data
    assert any(n.startswith("store/migrations/") and n.endswith(".sql") for n in names)  # the schema
    assert any(n.startswith("console/templates/") and n.endswith(".html") for n in names)  # the console's pages


#: a module longer than this is doing more than one thing (issue 31): split it by concern
MOST_LINES = 450


def test_no_product_module_is_longer_than_it_should_be():
    """Every module of the product's packages within MOST_LINES lines."""
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert too_long == {}
