"""`python -m cli …` runs `onestop …` (the supervisor starts workers this way)."""

from . import main

main()
