"""phones: what a person or a provider writes, as E.164, or InvalidPhone naming it."""

import pytest

from campaign_dispatch.phones import InvalidPhone, normalize, normalize_sender, search_forms

VALID = [
    ("+254712345678", "KE", "+254712345678"),
    ("0712 345678", "KE", "+254712345678"),
    ("0712345678", "KE", "+254712345678"),
    ("254712345678", "KE", "+254712345678"),
    (" +254 712-345 678 ", "KE", "+254712345678"),
    ("(0712) 345-678", "KE", "+254712345678"),
    ("+254 (712) 345.678", "KE", "+254712345678"),
    ("+44 7911 123456", "KE", "+447911123456"),  # international: the region does not matter
    ("07911 123456", "GB", "+447911123456"),
    ("(415) 555-0100", "US", "+14155550100"),
]


@pytest.mark.parametrize(("raw", "region", "e164"), VALID)
def test_valid_numbers_in_any_format_are_e164(raw, region, e164):
    assert normalize(raw, region) == e164


INVALID = [
    "",
    "   ",
    "abc",
    "12345",
    "+1555010",
    "0712345",  # too short for Kenya
    "07123456789",  # too long
    "+254712345678x",
    "++254712345678",
    "- - - - - -",
    "whatsapp:+254712345678",  # a person does not type a provider's prefix
    "0712345678 ext 3",
    "+2547123456789012345678901234567890",
    "1" * 500,
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_numbers_raise_naming_the_value(raw):
    with pytest.raises(InvalidPhone) as caught:
        normalize(raw, "KE")
    assert isinstance(caught.value, ValueError)
    assert repr(raw[:20])[:-1] in str(caught.value)
    assert "not a valid phone number" in str(caught.value)


def test_a_national_number_is_read_as_the_regions_own():
    assert normalize("0712345678", "KE") == "+254712345678"
    with pytest.raises(InvalidPhone, match="national numbers are read as GB's"):
        normalize("0712345678", "GB")


SENDERS = [
    ("+254712345678", "+254712345678"),  # Africa's Talking
    ("whatsapp:+254712345678", "+254712345678"),  # Twilio WhatsApp
    ("WhatsApp:+254712345678", "+254712345678"),
    ("254712345678", "+254712345678"),  # WhatsApp Cloud: digits without '+'
    ("14155550100", "+14155550100"),  # … of another country than DEFAULT_REGION's
    ("447911123456", "+447911123456"),
    ("0712345678", "+254712345678"),  # a gateway's national format
    ("tel:+254712345678", "+254712345678"),
    ("20880", None),  # a short code
    ("", None),
    ("Alice", None),
]


@pytest.mark.parametrize(("raw", "e164"), SENDERS)
def test_providers_senders_as_e164(raw, e164):
    assert normalize_sender(raw, "KE") == e164


SEARCHES = [
    ("0712 345 678", ("+254712345678", "0712345678")),
    ("+254-712-345-678", ("+254712345678", "+254712345678")),
    ("722 000", (None, "722000")),
    ("+2547", (None, "+2547")),
    ("Alice", (None, None)),
    ("100%", (None, None)),
]


@pytest.mark.parametrize(("q", "forms"), SEARCHES)
def test_search_forms(q, forms):
    assert search_forms(q, "KE") == forms
