import pickle
import string
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign_dispatch.templating import (
    CUSTOMER_FIELDS,
    MAX_TEMPLATE_LENGTH,
    CompiledTemplate,
    Personalizer,
    TemplateError,
    TemplatePersonalizer,
    parse,
    render,
    validate,
)

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": "+15550100",
    "location": "Lisbon",
    "preferred_product": "green tea",
}
ALLOWED = "first_name, last_name, phone, location, preferred_product"

# No example database: keeps test runs from writing .hypothesis/ into the repo.
property_settings = settings(database=None, max_examples=300, deadline=None)


def test_customer_fields_exported() -> None:
    assert CUSTOMER_FIELDS == ("first_name", "last_name", "phone", "location", "preferred_product")
    assert MAX_TEMPLATE_LENGTH == 1600


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Hi {first_name}!", ANN, "Hi Ann!"),
        ("{first_name} {last_name}", ANN, "Ann Lee"),
        ("{first_name}{last_name}", ANN, "AnnLee"),
        ("Call {phone}", ANN, "Call +15550100"),
        (
            "Hi {first_name}, {preferred_product} is back in {location}.",
            ANN,
            "Hi Ann, green tea is back in Lisbon.",
        ),
        ("No placeholders at all.", ANN, "No placeholders at all."),
        ("{first_name} and {first_name}", ANN, "Ann and Ann"),
        ("Hi {first_name}", {"first_name": "Bo", "extra": "ignored"}, "Hi Bo"),
        ("Code {phone}", {"phone": 42}, "Code 42"),
        ("Zero {phone}", {"phone": 0}, "Zero 0"),
        ("Flag {location}", {"location": False}, "Flag False"),
        ("Hi {first_name}", {"first_name": "  Ann  "}, "Hi   Ann  "),
        ("Hi {first_name}", {"first_name": "Zoë 😀"}, "Hi Zoë 😀"),
        ("Keep  double  spaces {first_name}", ANN, "Keep  double  spaces Ann"),
        ("Multi\nline {first_name}\n", ANN, "Multi\nline Ann\n"),
        ("back\\slash {first_name}", ANN, "back\\slash Ann"),
    ],
)
def test_substitution(template: str, values: dict[str, object], expected: str) -> None:
    assert render(template, values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (ANN, "Hi Ann Lee, try green tea in Lisbon. Call +15550100"),
        ({"first_name": "Ann"}, "Hi Ann, try our picks in your city. Call"),
        ({"last_name": "Lee"}, "Hi Lee, try our picks in your city. Call"),
        ({"location": "Porto", "phone": "123"}, "Hi, try our picks in Porto. Call 123"),
        ({"preferred_product": "matcha"}, "Hi, try matcha in your city. Call"),
        (
            {"first_name": "Ann", "preferred_product": "matcha", "location": None},
            "Hi Ann, try matcha in your city. Call",
        ),
        (
            {"first_name": None, "last_name": "Lee", "location": "Faro", "phone": ""},
            "Hi Lee, try our picks in Faro. Call",
        ),
        ({}, "Hi, try our picks in your city. Call"),
    ],
)
def test_field_combinations(values: dict[str, object], expected: str) -> None:
    template = (
        "Hi {first_name} {last_name}, try {preferred_product|our picks} "
        "in {location|your city}. Call {phone}"
    )
    assert render(template, values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (ANN, "Hello Ann Lee!"),
        ({"first_name": "Ann", "last_name": None}, "Hello Ann!"),
        ({"first_name": None, "last_name": "Lee"}, "Hello Lee!"),
        ({"first_name": None, "last_name": None}, "Hello!"),
        ({"first_name": "", "last_name": "   "}, "Hello!"),
        ({}, "Hello!"),
    ],
)
def test_first_and_last_name_combinations(values: dict[str, object], expected: str) -> None:
    assert render("Hello {first_name} {last_name}!", values) == expected


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Hi {first_name}, welcome", {"first_name": None}, "Hi, welcome"),
        ("Hi {first_name}, welcome", {}, "Hi, welcome"),
        ("Hello {first_name} {last_name}!", {"first_name": "Ann", "last_name": None}, "Hello Ann!"),
        ("{first_name} hi", {"first_name": None}, "hi"),
        ("{first_name}\thi", {}, "hi"),
        ("Hi {first_name} there", {}, "Hi there"),
        ("Hi {first_name}", {}, "Hi"),
        ("Hi {first_name}.", {}, "Hi."),
        ("Hi {first_name}{last_name} there", {}, "Hi there"),
        ("Hi {first_name} {last_name} there", {}, "Hi there"),
        ("{first_name} {last_name} hi", {}, "hi"),
        ("{first_name}{last_name} hi", {"last_name": "Lee"}, "Lee hi"),
        ("{first_name} {last_name} hi", {"last_name": "Lee"}, "Lee hi"),
        ("Dear{first_name} customer", {}, "Dear customer"),
        ("Hi\n{first_name}\nBye", {}, "Hi\nBye"),
        ("Hi\r\n{first_name}\r\nBye", {}, "Hi\r\nBye"),
        ("Hi\n{first_name} there", {}, "Hi\nthere"),
        ("Hi {first_name}\nBye", {}, "Hi\nBye"),
        ("Hi\n\n{first_name}\n\nBye", {}, "Hi\n\n\nBye"),
        ("{first_name}\nBye", {}, "Bye"),
        ("{first_name}", {}, ""),
        # the operator's own spacing elsewhere is left alone
        ("Hi  there,  {first_name}  ok", {}, "Hi  there,  ok"),
        ("A  B {first_name}", {}, "A  B"),
        ("{first_name}  x  y", {}, "x  y"),
        # values and fallbacks are never trimmed, even next to an empty slot
        ("{first_name} {last_name}", {"first_name": "Ann  "}, "Ann  "),
        ("{last_name} {first_name|  pal }", {}, "  pal "),
    ],
)
def test_missing_values_tidy_adjacent_whitespace(
    template: str, values: dict[str, object], expected: str
) -> None:
    assert render(template, values) == expected


@pytest.mark.parametrize("missing", [None, "", "   ", "\t\n"])
def test_null_like_values_never_render_none(missing: object) -> None:
    out = render("Hi {first_name} {last_name}, from {location}", {"first_name": missing})
    assert out == "Hi, from"
    assert "None" not in out
    assert "null" not in out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "Hi there, welcome"),
        ({"first_name": None}, "Hi there, welcome"),
        ({"first_name": ""}, "Hi there, welcome"),
        ({"first_name": " \t "}, "Hi there, welcome"),
        ({"first_name": "Ann"}, "Hi Ann, welcome"),
        ({"first_name": " Ann"}, "Hi  Ann, welcome"),
        ({"first_name": 7}, "Hi 7, welcome"),
    ],
)
def test_fallback_used_only_when_missing(values: dict[str, object], expected: str) -> None:
    assert render("Hi {first_name|there}, welcome", values) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {first_name|dear customer}!", "Hi dear customer!"),
        ("Hi {first_name|Mr. O'Neil, Jr.}!", "Hi Mr. O'Neil, Jr.!"),
        ("Hi {first_name| friend }!", "Hi  friend !"),
        ("Hi {first_name|a \\| b}", "Hi a | b"),
        ("Hi {first_name|\\{x\\}}", "Hi {x}"),
        ("Hi {first_name|back\\\\slash}", "Hi back\\slash"),
        ("Hi {first_name|C:\\temp}", "Hi C:\\temp"),
        ("Hi {first_name|{{}", None),
        ("Hi {first_name|}, welcome", "Hi, welcome"),
        ("Hi {first_name|   }, welcome", "Hi, welcome"),
        ("Hi {first_name|😀}", "Hi 😀"),
        ("Hi {first_name|{last_name}}", None),
    ],
)
def test_fallback_grammar(template: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(TemplateError):
            parse(template)
    else:
        assert render(template, {}) == expected


def test_fallback_is_not_a_placeholder_reference() -> None:
    assert render("Hi {first_name|last_name}", {"last_name": "Lee"}) == "Hi last_name"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{first_name}}", "{first_name}"),
        ("{{ literal }}", "{ literal }"),
        ("{{{first_name}}}", "{Ann}"),
        ('JSON: {{"a": 1}}', 'JSON: {"a": 1}'),
        ("}}{{", "}{"),
        ("{{}}", "{}"),
        ("{{{{", "{{"),
        ("Hi {first_name} {{", "Hi Ann {"),
    ],
)
def test_brace_escapes(template: str, expected: str) -> None:
    assert render(template, ANN) == expected


@pytest.mark.parametrize(
    ("template", "placeholder", "position"),
    [
        ("{first_name.__class__}", "{first_name.__class__}", 0),
        ("Hi {first_name.__class__.__mro__}", "{first_name.__class__.__mro__}", 3),
        ("{0}", "{0}", 0),
        ("x {1}", "{1}", 2),
        ("{x!r}", "{x!r}", 0),
        ("{first_name!r}", "{first_name!r}", 0),
        ("{first_name:>9}", "{first_name:>9}", 0),
        ("{first_name[0]}", "{first_name[0]}", 0),
        ("{__import__('os')}", "{__import__('os')}", 0),
        ("{ first_name }", "{ first_name }", 0),
        ("{First_Name}", "{First_Name}", 0),
        ("{first_name.__class__|x}", "{first_name.__class__|x}", 0),
    ],
)
def test_format_syntax_is_rejected_not_evaluated(
    template: str, placeholder: str, position: int
) -> None:
    with pytest.raises(TemplateError) as info:
        parse(template)
    assert info.value.placeholder == placeholder
    assert info.value.position == position
    assert placeholder in str(info.value)
    assert str(info.value) == f"Unknown placeholder {placeholder}; allowed: {ALLOWED}"


def test_unknown_placeholder_message() -> None:
    with pytest.raises(TemplateError) as info:
        validate("Hello {frist_name}!")
    err = info.value
    assert isinstance(err, ValueError)
    assert str(err) == f"Unknown placeholder {{frist_name}}; allowed: {ALLOWED}"
    assert err.message == str(err)
    assert err.placeholder == "{frist_name}"
    assert err.position == 6


@pytest.mark.parametrize(
    ("template", "placeholder", "position", "message"),
    [
        (
            "Hi {first_name",
            "{first_name",
            3,
            "Unclosed placeholder {first_name at position 3; "
            "close it with '}' or write '{{' for a literal brace",
        ),
        ("Hi {", "{", 3, None),
        ("Hi {first_name|friend", "{first_name|friend", 3, None),
        ("Hi {first_name|friend\\}", "{first_name|friend\\}", 3, None),
        ("a } b", "}", 2, "Unmatched '}' at position 2; write '}}' for a literal brace"),
        ("{first_name}}", "}", 12, None),
        ("Hi {}", "{}", 3, "Empty placeholder {} at position 3"),
        ("{|x}", "{|x}", 0, "Empty placeholder {|x} at position 0"),
        ("Hi { }", "{ }", 3, "Blank placeholder name in { } at position 3"),
        ("Hi {\t|x}", "{\t|x}", 3, None),
        (
            "{first_name{last_name}}",
            "{first_name{last_name}",
            0,
            "Unexpected '{' inside placeholder {first_name{last_name} at position 0; "
            "placeholders cannot be nested (write '{{' for a literal brace)",
        ),
        ("Hi {first_name and {last_name}", "{first_name and {last_name}", 3, None),
        ("{a{", "{a{", 0, None),
        ("{first_name|{x}}", "{first_name|{x}", 0, None),
        (
            "{first_name|a|b}",
            "{first_name|a|b}",
            0,
            "Unescaped '|' in the fallback of placeholder {first_name|a|b} at position 0; "
            "write '\\|' for a literal '|'",
        ),
    ],
)
def test_malformed_templates(
    template: str, placeholder: str, position: int, message: str | None
) -> None:
    with pytest.raises(TemplateError) as info:
        parse(template)
    assert info.value.placeholder == placeholder
    assert info.value.position == position
    assert placeholder in str(info.value)
    if message is not None:
        assert str(info.value) == message


def test_long_offending_text_is_shortened() -> None:
    template = "Hi {first_name " + "x" * 200
    with pytest.raises(TemplateError) as info:
        parse(template)
    assert info.value.placeholder == template[3:42] + "…"
    assert len(str(info.value)) < 150


@pytest.mark.parametrize("template", ["", " ", "\n\t  "])
def test_empty_template_rejected(template: str) -> None:
    with pytest.raises(TemplateError) as info:
        validate(template)
    assert str(info.value) == "Template must not be empty"
    assert info.value.placeholder is None
    assert info.value.position == 0


def test_max_length() -> None:
    validate("x" * MAX_TEMPLATE_LENGTH)
    with pytest.raises(TemplateError) as info:
        validate("x" * (MAX_TEMPLATE_LENGTH + 1))
    assert str(info.value) == "Template is 1601 characters long; the maximum is 1600"
    assert info.value.placeholder is None
    assert info.value.position == MAX_TEMPLATE_LENGTH


def test_non_str_template_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    ["{last_name}", "{{last_name}}", "{", "}", "{0}", "{first_name.__class__}", "{x|y}"],
)
def test_values_are_never_reinterpreted(value: str) -> None:
    values = {"first_name": value, "last_name": "Lee"}
    assert render("Hi {first_name} {last_name}", values) == f"Hi {value} Lee"


def test_fallback_that_looks_like_a_placeholder_is_literal() -> None:
    assert render("Hi {first_name|\\{last_name\\}}", {"last_name": "Lee"}) == "Hi {last_name}"


def test_compiled_template_api() -> None:
    compiled = parse("Hi {first_name|there}, {{x}} from {location}{location}")
    assert isinstance(compiled, CompiledTemplate)
    assert compiled.source == "Hi {first_name|there}, {{x}} from {location}{location}"
    assert compiled.placeholders == frozenset({"first_name", "location"})
    assert compiled.render(ANN) == "Hi Ann, {x} from LisbonLisbon"
    assert compiled.render({}) == "Hi there, {x} from"
    assert parse(compiled.source) is compiled
    assert parse("plain").placeholders == frozenset()


def test_template_error_survives_pickling() -> None:
    with pytest.raises(TemplateError) as info:
        parse("{nope}")
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.message, clone.placeholder, clone.position) == (
        f"Unknown placeholder {{nope}}; allowed: {ALLOWED}",
        "{nope}",
        0,
    )


async def test_template_personalizer() -> None:
    personalizer = TemplatePersonalizer()
    assert isinstance(personalizer, Personalizer)
    out = await personalizer.personalize("Hi {first_name|there}!", {}, channel="sms")
    assert out == "Hi there!"
    out = await personalizer.personalize("Hi {first_name}!", ANN, channel="whatsapp")
    assert out == "Hi Ann!"
    with pytest.raises(TemplateError):
        await personalizer.personalize("Hi {nope}", ANN, channel="sms")


# --- property tests -------------------------------------------------------------------

# "N" and "l" are excluded from generated text so that "None"/"null" can only appear if
# rendering produced them. Braces reach literals via the "{{"/"}}" strategy and
# fallbacks via backslash escapes.
LITERAL_CHARS = st.characters(exclude_characters="{}Nl", exclude_categories=["Cs"])
FALLBACK_CHARS = LITERAL_CHARS | st.sampled_from("{}|\\")


@dataclass(frozen=True)
class Piece:
    source: str
    text: str = ""  # literal output, for literal pieces
    name: str | None = None  # field name, for placeholders


def escape_fallback(text: str) -> str:
    return "".join("\\" + c if c in "{}|\\" else c for c in text)


def placeholder_piece(name: str, fallback: str | None) -> Piece:
    if fallback is None:
        return Piece("{" + name + "}", name=name)
    return Piece("{" + name + "|" + escape_fallback(fallback) + "}", name=name)


pieces = st.lists(
    st.one_of(
        st.text(LITERAL_CHARS, min_size=1, max_size=12).map(lambda s: Piece(s, s)),
        st.sampled_from(["{{", "}}"]).map(lambda s: Piece(s, s[0])),
        st.builds(
            placeholder_piece,
            st.sampled_from(CUSTOMER_FIELDS),
            st.none() | st.text(FALLBACK_CHARS, max_size=10),
        ),
    ),
    min_size=1,
    max_size=12,
).filter(lambda ps: "".join(p.source for p in ps).strip() != "")


def build(parts: list[Piece]) -> str:
    return "".join(p.source for p in parts)


def customer_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str | None]]:
    return st.fixed_dictionaries({}, optional={name: st.none() | text for name in CUSTOMER_FIELDS})


@property_settings
@given(
    parts=pieces,
    values=customer_values(st.text(st.characters(exclude_categories=["Cs"]), max_size=15)),
)
def test_rendering_valid_templates_never_raises_and_keeps_values(
    parts: list[Piece], values: dict[str, str | None]
) -> None:
    compiled = parse(build(parts))
    assert compiled.placeholders == {p.name for p in parts if p.name is not None}
    out = compiled.render(values)
    for name in compiled.placeholders:
        value = values.get(name)
        if value is not None and value.strip():
            assert value in out


@property_settings
@given(
    parts=pieces,
    values=customer_values(st.text(LITERAL_CHARS | st.sampled_from("{}|"), max_size=15)),
)
def test_rendering_never_invents_none(parts: list[Piece], values: dict[str, str | None]) -> None:
    out = render(build(parts), values)
    assert "None" not in out
    assert "null" not in out


@property_settings
@given(
    parts=pieces,
    values=st.fixed_dictionaries(
        {
            name: st.text(string.ascii_letters + "{}| ", min_size=1, max_size=8).filter(
                lambda s: s.strip() != ""
            )
            for name in CUSTOMER_FIELDS
        }
    ),
)
def test_all_values_present_is_plain_concatenation(
    parts: list[Piece], values: dict[str, str]
) -> None:
    expected = "".join(p.text if p.name is None else values[p.name] for p in parts)
    assert render(build(parts), values) == expected


@property_settings
@given(parts=pieces, values=customer_values(st.text(max_size=5)))
def test_none_and_absent_render_the_same(parts: list[Piece], values: dict[str, str | None]) -> None:
    absent = {k: v for k, v in values.items() if v is not None}
    assert render(build(parts), values) == render(build(parts), absent)


@property_settings
@given(
    parts=pieces,
    fallbacks=st.lists(st.text(FALLBACK_CHARS, min_size=1, max_size=8), min_size=1),
)
def test_fallbacks_round_trip(parts: list[Piece], fallbacks: list[str]) -> None:
    for fallback in fallbacks:
        if fallback.strip():
            template = build([*parts, placeholder_piece("phone", fallback)])
            assert render(template, {"phone": None}).endswith(fallback)


def parse_outcome(template: str) -> TemplateError | None:
    try:
        parse(template).render({})
    except TemplateError as err:
        return err
    return None


@property_settings
@given(chunks=st.lists(st.sampled_from([*"{}|\\ ab_.!0\n", *CUSTOMER_FIELDS]), max_size=30))
def test_arbitrary_text_parses_or_raises_template_error(chunks: list[str]) -> None:
    template = "".join(chunks)
    err = parse_outcome(template)
    if err is not None:
        assert 0 <= err.position <= len(template)
        assert err.message == str(err)
