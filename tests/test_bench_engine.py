"""The engine benchmark settles every claim it is given, after a warm-up year of other claims."""

from bench.engine import WARM_UP_CLAIMS, WARM_UP_SEED, by_person, settling
from bench.generator import year_of_claims


def test_the_engine_bench_settles_every_claim_and_warms_up_on_other_claims():
    population, claims = year_of_claims(300)
    settled, seconds = settling(by_person(population, claims))
    assert settled == len(claims) and seconds > 0
    warm_people, warm = year_of_claims(WARM_UP_CLAIMS, seed=WARM_UP_SEED, prefix="W")
    assert not {c.claim_id for c in warm} & {c.claim_id for c in claims}
    assert not {p.psn_no for p in warm_people} & {p.psn_no for p in population}


def test_the_pipeline_bench_measures_the_engine_in_a_process_of_its_own():
    from bench.pipeline.run import engine_rate

    assert engine_rate(0) == (None, None)
    figure, compiled = engine_rate(200)
    assert figure > 0 and isinstance(compiled, bool)


def test_the_pipeline_bench_measures_the_same_claims_with_or_without_a_profile():
    from argparse import Namespace

    from bench.pipeline.run import _generate

    def measured(profile_seconds: float) -> list[str]:
        args = Namespace(seconds=1.0, claims=40, profile_pool=120, profile_seconds=profile_seconds, seed=7, hops=None)
        work = _generate(args, [20])
        return [c.claim_id for _, part in work.loads for c in part] + [c.claim_id for c in work.saturation]

    assert measured(0) == measured(15)
