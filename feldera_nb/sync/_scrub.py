"""Keep credentials out of every message that leaves the sync package.

Backends echo what they were given: botocore repeats signing material, azure-core repeats
connection strings, google-auth repeats key data.  :class:`Scrubber` knows the secret values of
one sync config plus the shapes of credentials in general, and blanks both out of any text.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, Final

from feldera_nb.errors import SyncError

REDACTED: Final = "***"

# Credential shapes worth blanking even when the value is not one we were given.
_PATTERNS: Final = tuple(
    re.compile(p, re.IGNORECASE | re.DOTALL)
    for p in (
        r"(?<=AccountKey=)[^;\s'\"]+",
        r"(?<=SharedAccessSignature=)[^;\s'\"]+",
        r"(?<=[?&]sig=)[^&\s'\"]+",
        r"(?<=X-Amz-Signature=)[^&\s'\"]+",
        r"(?<=X-Amz-Credential=)[^&\s'\"]+",
        r"(?<=X-Amz-Security-Token=)[^&\s'\"]+",
        r"(?<=Signature=)[0-9a-f]{32,}",
        r"(?<=Authorization: )[^\r\n'\"]+",
        r"(?<='Authorization': ')[^']+",
        r"(?<=\"private_key\": \")[^\"]+",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
    )
)

# A secret shorter than this is not scrubbed by value (it would blank ordinary words);
# credentials are long, so this only affects test dummies such as "x".
_MIN_SECRET_LEN: Final = 4


def secret_value(secret: Any) -> str | None:
    """Return the plain value of a ``Secret`` (or of a plain string), or None."""
    if secret is None:
        return None
    getter = getattr(secret, "get_secret_value", None)
    value = getter() if callable(getter) else secret
    return value if isinstance(value, str) else json.dumps(value)


class Scrubber:
    """Blank known secret values and credential-shaped text out of strings.

    >>> s = Scrubber(["hunter2-secret"])
    >>> s("auth failed for key hunter2-secret")
    'auth failed for key ***'
    >>> s("AccountName=a;AccountKey=abc123==;BlobEndpoint=x")
    'AccountName=a;AccountKey=***;BlobEndpoint=x'
    """

    __slots__ = ("_values",)

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if secret:
                values.update(_variants(secret))
        # Longest first, so a secret containing another is blanked whole.
        self._values = tuple(sorted((v for v in values if len(v) >= _MIN_SECRET_LEN),
                                    key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Scrubber({len(self._values)} values)"

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def describe(self, exc: BaseException) -> str:
        """``"<Type>: <message>"`` of an exception, scrubbed and cut to its first line
        (plus an ``ErrorCode:`` line, which Azure puts further down)."""
        lines = (str(exc) or repr(exc)).strip().splitlines() or [""]
        keep = [lines[0].strip()]
        keep += [ln.strip() for ln in lines[1:] if ln.strip().startswith("ErrorCode:")]
        return self(f"{type(exc).__name__}: {' '.join(keep)}")

    def error(self, what: str, exc: BaseException) -> SyncError:
        """A :class:`SyncError` saying ``what`` failed because of ``exc``, scrubbed.

        Raise it ``from None``: a chained cause would print the unscrubbed backend text.
        """
        err = SyncError(f"{self(what)}: {self.describe(exc)}")
        err.cause_type = type(exc).__name__  # type: ignore[attr-defined]
        return err


def _variants(secret: str) -> set[str]:
    """The forms a secret takes inside messages: as is, URL-quoted, JSON-escaped, and the
    parts of a connection string or a JSON key file."""
    out = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
           json.dumps(secret)[1:-1]}
    if "=" in secret and ";" in secret:  # connection string: also each value on its own
        for part in secret.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() in {"accountkey", "sharedaccesssignature"} and value:
                out |= _variants(value)
    if secret.lstrip().startswith("{"):
        try:
            doc = json.loads(secret)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for key in ("private_key", "private_key_id", "client_secret", "refresh_token",
                        "access_token"):
                value = doc.get(key)
                if isinstance(value, str) and value:
                    out |= _variants(value)
                    out |= {line for line in value.splitlines() if len(line) >= 16}
    return out
