"""How every Kafka client of onestop authenticates: SASL (SCRAM-SHA-512) with the principal
ONESTOP_KAFKA_USER / ONESTOP_KAFKA_PASSWORD over ONESTOP_KAFKA_SECURITY (PLAINTEXT for the
embedded broker; SASL_SSL in production). Each worker connects as its own principal, which the
broker's ACLs allow to read its topic and write the next ones (runtime/acls.py)."""

from __future__ import annotations

from typing import Any

from schemas.settings import settings

MECHANISM = "SCRAM-SHA-512"


def client_options() -> dict[str, Any]:
    """Keyword arguments for aiokafka's producers, consumers and admin clients."""
    protocol = settings.kafka_security
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": settings.kafka_user,
        "sasl_plain_password": settings.kafka_password,
    }
    if protocol == "SASL_SSL":
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


def faust_credentials():
    """The same for a Faust app (None: no authentication)."""
    protocol = settings.kafka_security
    if protocol == "PLAINTEXT":
        return None
    import faust

    ssl_context = client_options().get("ssl_context")
    return faust.SASLCredentials(
        username=settings.kafka_user, password=settings.kafka_password, mechanism=MECHANISM, ssl_context=ssl_context
    )
