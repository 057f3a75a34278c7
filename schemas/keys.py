"""Who may speak for whom: the public keys of hospitals and authorities, and what each may sign."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .codes import Authority, Identifier, NonEmpty


class SigningKey(BaseModel):
    """A public key in the registry, bound to the one hospital or authority it speaks for.

    A hospital key (``signer_kind`` hospital, ``signer`` its fixmedins_code) signs that hospital's
    claims and cancellations; an authority key (``signer`` an authority code) signs changes of the
    categories that authority issues. Events received outside [valid_from, valid_to), or from the
    moment the key is revoked, are refused; earlier ones stay valid.
    """

    model_config = ConfigDict(frozen=True)
    key_id: Identifier
    signer_kind: Literal["hospital", "authority"]
    signer: Identifier  # a hospital's fixmedins_code, or an authority's code
    public_key: NonEmpty  # Ed25519, the 32 raw bytes in base64
    valid_from: datetime
    valid_to: datetime | None = None
    revoked_at: datetime | None = None

    def authority(self) -> Authority | None:
        return Authority(self.signer) if self.signer_kind == "authority" else None


class KeyFile(BaseModel):
    """A signer's own key file (kept secret by the hospital or authority): the private key with its id."""

    key_id: str
    signer_kind: Literal["hospital", "authority"]
    signer: str
    private_key: str  # Ed25519, the 32 raw bytes in base64
    public_key: str
