"""Whether the settlement rules run compiled or as their Python source.

`onestop compile-rules` builds the modules a claim's settlement runs through — the rules of
policies/ and the money and trusted-model helpers here — to C with mypyc: the same source, about
a third to a half faster (README, "Benchmarks"). They are used only while they are current: the
build writes the hash of every source it compiled (BUILD_FILE), and when one differs — a rule
edited since — or ONESTOP_PURE_RULES=1, the Python source is imported instead, so a rule always
runs as it is written. (Without a build, the source is what runs, as before.) This module is
imported first by both packages, before any module it decides for.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import json
import logging
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from .settings import settings

ROOT = Path(__file__).resolve().parent.parent
#: the modules the build compiles (all of a claim's settlement; mypyc calls between them directly)
COMPILED_MODULES = (
    "schemas.money",
    "schemas.trusted",
    *(
        f"policies.{name}"
        for name in (
            "schedule",
            "conditions",
            "identity",
            "applicable",
            "accounts",
            "payer",
            "settle",
            "year",
            "replay",
        )
    ),
)
#: written by the build: the Python it was built for and the hash of each source it compiled
BUILD_FILE = ROOT / "schemas" / "_rules_build.json"


def source_of(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_hashes(root: Path = ROOT) -> dict[str, str]:
    return {name: hashlib.sha256(source_of(name, root).read_bytes()).hexdigest() for name in COMPILED_MODULES}


def build_is_current(build_file: Path = BUILD_FILE, root: Path = ROOT) -> bool:
    """True when a build exists for this Python and every compiled module's source is the one it compiled."""
    try:
        build: dict[str, object] = json.loads(build_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return build.get("python") == sys.implementation.cache_tag and build.get("sources") == source_hashes(root)


class _PythonSource(importlib.abc.MetaPathFinder):
    """Imports the compiled modules from their .py files, passing over the extensions."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in COMPILED_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_of(fullname))


def _choose() -> bool:
    """Compiled when the build is current and not refused; otherwise the source, said once if a build is stale."""
    refused = settings.pure_rules
    if refused or not build_is_current():
        if BUILD_FILE.exists() and not refused:
            logging.getLogger(__name__).warning(
                "the compiled rules are older than their source: running the Python source "
                "(`onestop compile-rules` builds them again)"
            )
        sys.meta_path.insert(0, _PythonSource())
        return False
    return True


_choose()  # (at import: before any module it decides for is imported)


def running_compiled() -> bool:
    """Whether the settlement modules load (or loaded) from their compiled extensions."""
    loaded = sys.modules.get("policies.payer")
    if loaded is not None:
        origin = loaded.__file__
    else:
        spec = importlib.util.find_spec("policies.payer")
        if spec is None:  # (never: it is this package's own module)
            raise ModuleNotFoundError("policies.payer is not importable")
        origin = spec.origin
    return not str(origin).endswith(".py")
