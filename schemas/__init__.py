"""Pydantic v2 models of everything on the wire and in the policy files, and the money type.

Nothing here imports any other onestop package.
"""

from . import compiled  # noqa: F401 - first: it decides whether the rules load compiled or from their source
