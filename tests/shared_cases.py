"""Where the worked cases are: ../shared/cases beside the repository, or ONESTOP_CASES."""

from __future__ import annotations

from pathlib import Path

from schemas.cases import Case
from schemas.settings import value

CASES_DIR = Path(value("ONESTOP_CASES") or Path(__file__).resolve().parents[2] / "shared" / "cases")


def case_files() -> list[Path]:
    files = sorted(CASES_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no worked cases in {CASES_DIR}; set ONESTOP_CASES to the shared cases folder")
    return files


def load_case(path: Path) -> Case:
    return Case.model_validate_json(path.read_bytes())
