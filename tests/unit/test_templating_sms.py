import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_dispatch.templating import SmsInfo, sms_info
from campaign_dispatch.templating.sms import GSM7_BASIC_TABLE, GSM7_EXTENSION

property_settings = settings(database=None, max_examples=200, deadline=None)

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "^{}\\[~]|€\f"


def test_basic_table_is_exact() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert GSM7_BASIC_TABLE.index("\x1b") == 0x1B
    assert GSM7_BASIC_TABLE.index("@") == 0x00
    assert GSM7_BASIC_TABLE.index("Δ") == 0x10
    assert GSM7_BASIC_TABLE.index("¡") == 0x40
    assert GSM7_BASIC_TABLE.index("¿") == 0x60
    assert GSM7_BASIC_TABLE.index("à") == 0x7F
    assert set(GSM7_BASIC_TABLE) - {"\x1b"} == set(GSM_BASIC)
    assert set(EXTENSION) == GSM7_EXTENSION


@pytest.mark.parametrize("char", list(GSM_BASIC))
def test_every_basic_char_is_one_septet(char: str) -> None:
    assert sms_info(char * 160) == SmsInfo(160, "GSM-7", 1)


@pytest.mark.parametrize("char", list(EXTENSION))
def test_every_extension_char_is_two_septets(char: str) -> None:
    assert sms_info(char * 80) == SmsInfo(80, "GSM-7", 1)
    assert sms_info(char * 81) == SmsInfo(81, "GSM-7", 2)


@pytest.mark.parametrize(
    "char",
    ["ç", "á", "í", "ó", "ú", "â", "ê", "õ", "`", "\t", "\x1b", "\u2019", "\u201c", "\u2126", "ß̈"],
)
def test_non_gsm_chars_switch_to_ucs2(char: str) -> None:
    assert sms_info("Hello " + char).encoding == "UCS-2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsInfo(0, "GSM-7", 0)),
        ("a", SmsInfo(1, "GSM-7", 1)),
        ("a" * 160, SmsInfo(160, "GSM-7", 1)),
        ("a" * 161, SmsInfo(161, "GSM-7", 2)),
        ("a" * 306, SmsInfo(306, "GSM-7", 2)),
        ("a" * 307, SmsInfo(307, "GSM-7", 3)),
        ("a" * 459, SmsInfo(459, "GSM-7", 3)),
        ("a" * 460, SmsInfo(460, "GSM-7", 4)),
        # extension chars count double
        ("€" * 80, SmsInfo(80, "GSM-7", 1)),
        ("a" * 159 + "€", SmsInfo(160, "GSM-7", 2)),
        ("a" * 158 + "€", SmsInfo(159, "GSM-7", 1)),
        ("{}" * 40, SmsInfo(80, "GSM-7", 1)),
        # an escape pair that would straddle septet 153/154 moves to the next segment
        ("a" * 152 + "€" + "a" * 152, SmsInfo(305, "GSM-7", 3)),
        ("a" * 151 + "€" + "a" * 153, SmsInfo(305, "GSM-7", 2)),
        ("a" * 152 + "€" + "a" * 151, SmsInfo(304, "GSM-7", 2)),
        ("€" * 153, SmsInfo(153, "GSM-7", 3)),
        ("€" * 76 + "a", SmsInfo(77, "GSM-7", 1)),
        ("€" * 77 + "a" * 7, SmsInfo(84, "GSM-7", 2)),
        # UCS-2
        ("ç" * 70, SmsInfo(70, "UCS-2", 1)),
        ("ç" * 71, SmsInfo(71, "UCS-2", 2)),
        ("ç" * 134, SmsInfo(134, "UCS-2", 2)),
        ("ç" * 135, SmsInfo(135, "UCS-2", 3)),
        ("a" * 69 + "ç", SmsInfo(70, "UCS-2", 1)),
        ("€" * 69 + "ç", SmsInfo(70, "UCS-2", 1)),
        # emoji are outside the BMP: 2 UTF-16 code units, never split across segments
        ("😀", SmsInfo(1, "UCS-2", 1)),
        ("😀" * 35, SmsInfo(35, "UCS-2", 1)),
        ("😀" * 35 + "a", SmsInfo(36, "UCS-2", 2)),
        ("a" * 69 + "😀", SmsInfo(70, "UCS-2", 2)),
        ("a" * 66 + "😀" + "a" * 66, SmsInfo(133, "UCS-2", 3)),
        ("a" * 65 + "😀" + "a" * 67, SmsInfo(133, "UCS-2", 2)),
        ("Hi Ann 👋", SmsInfo(8, "UCS-2", 1)),
    ],
)
def test_sms_info(text: str, expected: SmsInfo) -> None:
    assert sms_info(text) == expected


def test_sms_info_is_frozen() -> None:
    info = sms_info("hi")
    with pytest.raises(AttributeError):
        info.segments = 3  # type: ignore[misc]


@property_settings
@given(st.text(st.sampled_from(GSM_BASIC), max_size=1000))
def test_basic_gsm_segments(text: str) -> None:
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert sms_info(text) == SmsInfo(n, "GSM-7", expected)


@property_settings
@given(st.text(st.characters(min_codepoint=0x400, max_codepoint=0x4FF), min_size=1, max_size=500))
def test_ucs2_bmp_segments(text: str) -> None:
    n = len(text)
    expected = 1 if n <= 70 else math.ceil(n / 67)
    assert sms_info(text) == SmsInfo(n, "UCS-2", expected)


@property_settings
@given(st.text(st.sampled_from(GSM_BASIC + EXTENSION), max_size=600))
def test_gsm_segments_bounds(text: str) -> None:
    septets = sum(2 if c in EXTENSION else 1 for c in text)
    info = sms_info(text)
    assert info.encoding == "GSM-7"
    if septets <= 160:
        assert info.segments == (1 if text else 0)
    else:
        # padding lost to an unsplittable pair is at most one septet per segment
        assert math.ceil(septets / 153) <= info.segments <= math.ceil(septets / 152)
