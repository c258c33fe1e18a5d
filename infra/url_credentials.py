"""Credentials written into a URL (`https://user:password@host/api`) are masked wherever text is shown."""

import re

MASK = "***"
# Up to the last `@` of the word: a password may itself hold `@` or `/`; masking too much beats leaking.
_IN_URL = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s'\"]*@")
# `user:password@host` without a scheme (or with a misspelt one, `tcp//user:password@host`).
_WITHOUT_SCHEME = re.compile(r"[^\s'\"/@:]+:(?!//)[^\s'\"]*@")


def masked_url(text: str) -> str:
    """'http://admin:pw@host/api' -> 'http://***@host/api', in a URL or in any text that contains one."""
    text = _IN_URL.sub(lambda match: f"{match['scheme']}{MASK}@", text)
    return _WITHOUT_SCHEME.sub(f"{MASK}@", text)


def has_credentials(url: str) -> bool:
    return masked_url(url) != url
