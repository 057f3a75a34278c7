"""`python -m bench.pipeline`."""

from . import main

main()
