"""Phone numbers, stored one way: E.164 (`+254712345678`), parsed with `phonenumbers`.

What a person types is read in their region's national format too (DEFAULT_REGION, `KE`:
`0712 345678` is `+254712345678`), with spaces, dashes, dots and brackets, and an
international number with or without its leading `+` where that is unambiguous. A number
`phonenumbers` cannot parse, or parses but does not hold valid (a prefix no operator
has, too few or too many digits), is an `InvalidPhone`.
"""

import re

import phonenumbers

MAX_INPUT = 64
"""The longest text read as a number: well past any formatted one, short of any abuse."""

# Digits, the separators people write between them, an optional leading '+'. phonenumbers
# itself skips most stray characters ('+254712345678x' parses); a typed number does not.
_TYPED = re.compile(r"\+?[ \t(]*[0-9][0-9 \t().\-]*")
# How providers prefix a sender: Twilio's 'whatsapp:+254…', and 'tel:' or 'sms:' URIs.
_SCHEME = re.compile(r"^(?:whatsapp|tel|sms):", re.IGNORECASE)
_SEPARATORS = re.compile(r"[ \t().\-]")


class InvalidPhone(ValueError):
    """A text that is not a valid phone number; the message names it and says why."""

    def __init__(self, raw: str, reason: str) -> None:
        shown = raw if len(raw) <= MAX_INPUT else raw[:MAX_INPUT] + "…"
        super().__init__(f"{shown!r} is not a valid phone number: {reason}")
        self.raw = raw
        self.reason = reason


def normalize(raw: str, region: str) -> str:
    """`raw` as E.164; national formats are read as `region`'s (ISO 3166 alpha-2)."""
    text = raw.strip()
    if not text:
        raise InvalidPhone(raw, "it is empty")
    if len(text) > MAX_INPUT:
        raise InvalidPhone(raw, f"longer than {MAX_INPUT} characters")
    if not _TYPED.fullmatch(text):
        raise InvalidPhone(
            raw, "only digits, spaces, dashes, dots, brackets and a leading + may be used"
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(raw, "it cannot be read as a phone number") from None
    if not phonenumbers.is_valid_number(number):
        where = "" if text.startswith("+") else f" (national numbers are read as {region}'s)"
        raise InvalidPhone(raw, f"no such number exists{where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_sender(raw: str, region: str) -> str | None:
    """An inbound message's sender as E.164, or None when it is not a valid number.

    Providers write senders their own way: Twilio's WhatsApp `whatsapp:+254…`, WhatsApp
    Cloud's digits without the `+` (`254…`), Africa's Talking's `+254…`. Digits without a
    `+` are read in `region`'s national format first (`0712…`), then as international.
    """
    text = _SCHEME.sub("", raw.strip()).strip()
    candidates = [text]
    if text.isdigit() and not text.startswith("0"):
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            return normalize(candidate, region)
        except InvalidPhone:
            continue
    return None


def search_forms(q: str, region: str) -> tuple[str | None, str | None]:
    """What a search text says about a phone: its E.164 form when it is a whole valid
    number (any format), and its digits without separators when it could be part of one
    (`722 000` finds `+254722000…`). Either is None when it does not apply."""
    text = q.strip()
    if not text or not _TYPED.fullmatch(text):
        return None, None
    compact = _SEPARATORS.sub("", text)
    try:
        return normalize(text, region), compact
    except InvalidPhone:
        return None, compact
