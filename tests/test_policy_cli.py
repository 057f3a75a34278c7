"""`onestop policy …` on bad input: a clear error naming the case and the claim, never a traceback."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.policy import policy

from .shared_cases import CASES_DIR


def test_a_claim_before_the_policy_starts_is_a_clear_error(tmp_path):
    case = json.loads((CASES_DIR / "zhangye-dibao-edge-two-stays.json").read_text())
    # a reach-back claim: inside the 12 months before the dibao_edge grant, but before Zhangye's policy (2022-07-01)
    case["claims"][0].update(begndate="2022-05-01", enddate="2022-05-03")
    path = tmp_path / "early.json"
    path.write_text(json.dumps(case))
    for command in ("settle", "explain"):
        result = CliRunner().invoke(policy, [command, str(path)])
        assert result.exit_code == 1, result.output
        assert (
            "case zhangye-dibao-edge-two-stays: claim ZY-2a: no policy of pooled city 6207 in force on 2022-05-03"
            in result.output
        )
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
