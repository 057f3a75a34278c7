"""The compiled rules (`onestop compile-rules`) settle exactly as their Python source does, and are
used only while every source is the one they were compiled from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mypy_extensions

from schemas import compiled

ROOT = Path(__file__).resolve().parents[1]

#: settles a generated year and prints which rules ran and a hash of every line and total
_FINGERPRINT = """
import hashlib, json, orjson
from bench.generator import year_of_claims
from schemas.compiled import running_compiled
from policies.replay import settle_in_order
population, claims = year_of_claims(1500, seed=23)
held = {p.psn_no: p.categories for p in population}
own = {}
for claim in claims:
    own.setdefault(claim.psn_no, []).append(claim)
digest = hashlib.sha256()
for psn_no, theirs in own.items():
    for settled in settle_in_order(theirs, held[psn_no]):
        for line in settled.lines:
            digest.update(orjson.dumps(line.model_dump(mode="json")))
        for account, totals in sorted(settled.totals.items()):
            digest.update(account.encode() + orjson.dumps(totals.model_dump(mode="json")))
print(json.dumps({"compiled": running_compiled(), "digest": digest.hexdigest()}))
"""


def _settled(pure: bool) -> dict:
    env = {**os.environ, "ONESTOP_PURE_RULES": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, "-c", _FINGERPRINT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_the_compiled_rules_settle_a_generated_year_exactly_as_the_source_does():
    source, default = _settled(pure=True), _settled(pure=False)
    assert source["compiled"] is False
    if compiled.BUILD_FILE.exists():  # built (as .ci/run does): it must be current, and be what runs
        assert compiled.build_is_current(), "the compiled rules are stale: run `onestop compile-rules` (or --clean)"
        assert default["compiled"] is True
    assert default["digest"] == source["digest"]


def test_a_build_is_current_only_for_this_python_and_the_very_sources_it_compiled(tmp_path):
    for name in compiled.COMPILED_MODULES:
        source = compiled.source_of(name, tmp_path)
        source.parent.mkdir(exist_ok=True)
        source.write_text(f"# {name}\n", encoding="utf-8")
    build = tmp_path / "schemas" / "_rules_build.json"
    assert not compiled.build_is_current(build, tmp_path)  # no build
    hashes = compiled.source_hashes(tmp_path)
    build.write_text(json.dumps({"python": sys.implementation.cache_tag, "sources": hashes}), encoding="utf-8")
    assert compiled.build_is_current(build, tmp_path)
    compiled.source_of("policies.payer", tmp_path).write_text("# payer, edited\n", encoding="utf-8")
    assert not compiled.build_is_current(build, tmp_path)  # a rule edited since
    build.write_text(
        json.dumps({"python": "cpython-399", "sources": compiled.source_hashes(tmp_path)}), encoding="utf-8"
    )
    assert not compiled.build_is_current(build, tmp_path)  # built for another Python
    build.write_text("not json", encoding="utf-8")
    assert not compiled.build_is_current(build, tmp_path)


#: compiles the rules of the copy first on sys.path (a stand-in for site-packages)
_COMPILE_WHERE_INSTALLED = """
import sys
sys.path.insert(0, sys.argv[1])
from cli.compile_rules import compile_rules
compile_rules.main([], standalone_mode=False)
"""
#: then, in a process of its own (the rules are chosen at import), which rules run, and from where
_WHAT_RUNS = """
import sys
sys.path.insert(0, sys.argv[1])
from schemas.compiled import ROOT, running_compiled
print(running_compiled(), ROOT)
"""


def test_the_rules_compile_where_they_are_installed_beside_other_modules(tmp_path):
    # (as in the production image: site-packages, where mypy run in place refused a module that
    # shadows one of its own, mypy_extensions)
    site = tmp_path / "site-packages"
    for package in ("schemas", "policies"):
        shutil.copytree(
            ROOT / package, site / package, ignore=shutil.ignore_patterns("*.so", "_rules_build.json", "__pycache__")
        )
    (site / "mypy_extensions.py").write_text(
        (Path(mypy_extensions.__file__)).read_text(encoding="utf-8"), encoding="utf-8"
    )
    env = {**os.environ, "ONESTOP_PURE_RULES": "0"}
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE_WHERE_INSTALLED, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    if shutil.which("cc") is None:  # (no compiler: the command says the build failed, and the source runs)
        assert done.returncode != 0 and "the build failed" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-2000:]
    runs = subprocess.run(
        [sys.executable, "-c", _WHAT_RUNS, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert runs.stdout.split()[-2:] == ["True", str(site)]
    assert sorted(p.name.split(".")[0] for p in (site / "policies").glob("*.so")) == sorted(
        name.split(".")[1] for name in compiled.COMPILED_MODULES if name.startswith("policies.")
    )
