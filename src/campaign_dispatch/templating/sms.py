"""SMS length and encoding metadata (GSM 03.38 / 3GPP TS 23.038)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 basic character set in code order 0x00-0x7F; 0x1B is the escape to the
# extension table.
GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

# The escape slot is not a character of its own: a literal ESC in the text would be sent
# as an escape prefix and corrupt the next character, so such text goes out as UCS-2.
_GSM7_BASIC: Final = frozenset(GSM7_BASIC_TABLE) - {"\x1b"}
_GSM7_ALL: Final = _GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE: Final = 160
GSM7_SEGMENT: Final = 153
UCS2_SINGLE: Final = 70
UCS2_SEGMENT: Final = 67


@dataclass(frozen=True, slots=True)
class SmsInfo:
    """Length metadata for one message.

    ``characters`` is ``len(text)``: Unicode code points, which is what people perceive
    except for combined sequences (flags, skin tones, ZWJ emoji) that count once per
    code point. ``segments`` is 0 for empty text.
    """

    characters: int
    encoding: Encoding
    segments: int


def _segments(costs: list[int], single: int, per_segment: int) -> int:
    """Count segments, never splitting one character's units (escape or surrogate pair)."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments = 1
    used = 0
    for cost in costs:
        if used + cost > per_segment:
            segments += 1
            used = 0
        used += cost
    return segments


def sms_info(text: str) -> SmsInfo:
    chars = set(text)
    if chars <= _GSM7_ALL:
        costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return SmsInfo(len(text), "GSM-7", _segments(costs, GSM7_SINGLE, GSM7_SEGMENT))
    costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SmsInfo(len(text), "UCS-2", _segments(costs, UCS2_SINGLE, UCS2_SEGMENT))
