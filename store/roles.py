"""Which database role each kind of worker connects as (store/migrations/0009_worker_roles.sql).

Every kind of worker — intake, cancellation, eligibility, year_end, the ledger, the payers,
presettle — has a role of its own that may do what that kind does and nothing else. A worker's URL
is ONESTOP_<KIND>_DATABASE_URL when the deployment gives each role its own password; otherwise the
workers' shared URL (ONESTOP_WORKER_DATABASE_URL, or the embedded PostgreSQL's, which names the role
onestop_worker) taken as the role of its kind. A URL that names any other role (the owner's in a
test, or a worker service's own in docker-compose.yml) is used as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from schemas.settings import WORKER_KINDS, settings

#: the role every worker's role is a member of: what they all may do (archive, refuse, park)
SHARED_ROLE = "onestop_worker"


def role_of(kind: str) -> str:
    """The database role of a kind of worker."""
    if kind not in WORKER_KINDS:
        raise ValueError(f"no database role for a worker of kind {kind!r}; the kinds: {', '.join(WORKER_KINDS)}")
    return f"onestop_{kind}"


def url_for(kind: str, url: str) -> str:
    """The URL a worker of ``kind`` connects with, given the workers' URL ``url``."""
    own = settings.kind_database_url(kind)
    if own:
        return own
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    name, colon, password = user.partition(":")
    if not at or name != SHARED_ROLE:
        return url
    return urlunsplit(parts._replace(netloc=f"{role_of(kind)}{colon}{password}@{host}"))
