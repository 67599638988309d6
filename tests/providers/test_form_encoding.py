"""The adapters' form bodies are what urllib.parse.urlencode writes, byte for byte, for
any text a message or a field may hold."""

import random
import urllib.parse

import pytest

from campaign_dispatch.providers.http import form_encode

TEXTS = [
    "",
    "plain",
    "Hi Ann, your order is ready — 10% off today!",
    "a+b=c&d",
    "line one\nline two\r\n\ttab",
    "~_.-",
    "emoji 🎉 and Kiswahili: habari ya asubuhi",
    "%41 is not decoded",
    "quotes ' \" and slashes / \\ ? #",
    "\x00\x7f",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_field_encodes_as_urlencode_does(text):
    fields = {"username": "sandbox", "to": "+254711000001", "message": text, text or "k": "v"}
    assert form_encode(fields) == urllib.parse.urlencode(fields).encode()


def test_random_texts_encode_as_urlencode_does():
    draw = random.Random(12)
    for _ in range(2000):
        text = "".join(
            chr(draw.choice((draw.randrange(128), draw.randrange(0x80, 0xD800))))
            for _ in range(draw.randrange(12))
        )
        fields = {"message": text, "key " + text: text}
        assert form_encode(fields) == urllib.parse.urlencode(fields).encode(), repr(text)
