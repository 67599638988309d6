"""Message template engine: the language of campaign templates.

Grammar::

    template    := ( text | "{{" | "}}" | placeholder )*
    placeholder := "{" name [ "|" fallback ] "}"
    name        := one of CUSTOMER_FIELDS, exactly (case-sensitive, no surrounding spaces)
    fallback    := ( any char except "{", "}", "|", "\\"  |  "\\" any char )*

* ``{{`` and ``}}`` outside placeholders are literal braces; a backslash outside a
  placeholder is plain text.
* Inside a fallback, ``\\{``, ``\\}``, ``\\|`` and ``\\\\`` stand for ``{``, ``}``, ``|``
  and ``\\``; a backslash before any other character is kept as is. The fallback is
  otherwise used verbatim (spaces and punctuation included). A blank fallback
  (``{first_name|}``) is the same as no fallback.
* A value is *missing* when the key is absent, the value is ``None``, or its text is
  empty/whitespace-only. Non-str values are rendered with ``str()``.

Anything else inside braces (``{0}``, ``{x!r}``, ``{first_name.__class__}``,
``{first_name:>9}``, ``{first_name[0]}``, ``{ first_name }``) is an unknown placeholder:
it is rejected at parse time and never evaluated. Rendering is a single pass over the
precompiled parts, so braces inside customer values are emitted literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, TypeAlias

CUSTOMER_FIELDS: Final[tuple[str, ...]] = (
    "first_name",
    "last_name",
    "phone",
    "location",
    "preferred_product",
)

# 10 concatenated GSM-7 segments (10 x 153 = 1530 septets) is a common carrier cap;
# 1600 leaves room for the template syntax itself.
MAX_TEMPLATE_LENGTH: Final = 1600

_ALLOWED: Final = frozenset(CUSTOMER_FIELDS)
_ALLOWED_TEXT: Final = ", ".join(CUSTOMER_FIELDS)
_BRACE: Final = re.compile(r"[{}]")
_NAME_END: Final = re.compile(r"[{}|]")
_FALLBACK_ESCAPABLE: Final = "{}|\\"
_HSPACE: Final = " \t"
_LINE_BREAKS: Final = ("\n", "\r")
_EXCERPT_MAX: Final = 40


class TemplateError(ValueError):
    """A template that cannot be compiled.

    ``placeholder`` is the offending placeholder text as written (``None`` when the
    problem concerns the whole template) and ``position`` its 0-based index in the
    template.
    """

    def __init__(self, message: str, *, placeholder: str | None = None, position: int = 0):
        super().__init__(message)
        self.message = message
        self.placeholder = placeholder
        self.position = position

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_error, (self.message, self.placeholder, self.position))


def _rebuild_error(message: str, placeholder: str | None, position: int) -> TemplateError:
    return TemplateError(message, placeholder=placeholder, position=position)


# A slot is (field name, fallback or None); literals are plain str.
_Slot: TypeAlias = tuple[str, str | None]
_Part: TypeAlias = str | _Slot


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A parsed template; build it with :func:`parse` and reuse it for every customer.

    Whitespace tidying around an *empty* substitution (missing value, no usable
    fallback) only ever removes spaces/tabs/line breaks of the template text that touch
    the placeholder; customer values and fallbacks are never trimmed:

    1. spaces/tabs in the template text directly before the placeholder are removed;
    2. if the placeholder then starts a line (or the message), the spaces/tabs directly
       after it are removed too, plus one line break if the line is left empty.

    So ``"Hi {first_name}, welcome"`` -> ``"Hi, welcome"``, ``"{first_name} hi"`` ->
    ``"hi"`` and a line holding only an empty placeholder disappears.
    """

    source: str
    placeholders: frozenset[str]
    _parts: tuple[_Part, ...] = field(repr=False, compare=False)

    def render(self, values: Mapping[str, object | None]) -> str:
        out: list[str] = []
        append = out.append
        last_is_literal = False
        strip_next = False
        get = values.get
        for part in self._parts:
            if isinstance(part, str):
                if strip_next:
                    part = _strip_line_start(part)
                    strip_next = False
                append(part)
                last_is_literal = True
                continue
            name, fallback = part
            text = _present(get(name))
            if text is None:
                text = fallback
            if text:
                append(text)
                last_is_literal = False
                strip_next = False
                continue
            if last_is_literal:
                out[-1] = out[-1].rstrip(_HSPACE)
            tail = _last_char(out)
            strip_next = tail == "" or tail in _LINE_BREAKS
        return "".join(out)


def _present(value: object | None) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if not text or text.isspace():
        return None
    return text


def _last_char(out: list[str]) -> str:
    for chunk in reversed(out):
        if chunk:
            return chunk[-1]
    return ""


def _strip_line_start(text: str) -> str:
    text = text.lstrip(_HSPACE)
    if text.startswith("\r\n"):
        return text[2:]
    if text.startswith(_LINE_BREAKS):
        return text[1:]
    return text


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT_MAX else text[: _EXCERPT_MAX - 1] + "…"


def _error(message: str, placeholder: str, position: int) -> TemplateError:
    return TemplateError(message, placeholder=placeholder, position=position)


def _up_to_close(template: str, start: int, after: int) -> str:
    close = template.find("}", after)
    end = len(template) if close == -1 else close + 1
    return _excerpt(template[start:end])


def _unclosed(template: str, start: int) -> TemplateError:
    text = _excerpt(template[start:])
    return _error(
        f"Unclosed placeholder {text} at position {start}; "
        "close it with '}' or write '{{' for a literal brace",
        text,
        start,
    )


def _nested(template: str, start: int, inner: int) -> TemplateError:
    text = _up_to_close(template, start, inner + 1)
    return _error(
        f"Unexpected '{{' inside placeholder {text} at position {start}; "
        "placeholders cannot be nested (write '{{' for a literal brace)",
        text,
        start,
    )


def _parse_placeholder(template: str, start: int) -> tuple[_Slot, int]:
    """Parse the placeholder whose ``{`` is at ``start``; return it and the index after it."""
    size = len(template)
    match = _NAME_END.search(template, start + 1)
    if match is None:
        raise _unclosed(template, start)
    cut = match.start()
    name = template[start + 1 : cut]
    stop = template[cut]
    if stop == "{":
        raise _nested(template, start, cut)

    fallback: str | None = None
    close = cut
    if stop == "|":
        chars: list[str] = []
        i = cut + 1
        while True:
            if i >= size:
                raise _unclosed(template, start)
            char = template[i]
            if char == "\\" and i + 1 < size and template[i + 1] in _FALLBACK_ESCAPABLE:
                chars.append(template[i + 1])
                i += 2
                continue
            if char == "}":
                break
            if char == "{":
                raise _nested(template, start, i)
            if char == "|":
                text = _up_to_close(template, start, i + 1)
                raise _error(
                    f"Unescaped '|' in the fallback of placeholder {text} at position {start}; "
                    "write '\\|' for a literal '|'",
                    text,
                    start,
                )
            chars.append(char)
            i += 1
        close = i
        joined = "".join(chars)
        fallback = joined if joined.strip() else None

    text = _excerpt(template[start : close + 1])
    if not name:
        raise _error(f"Empty placeholder {text} at position {start}", text, start)
    if name.isspace():
        raise _error(f"Blank placeholder name in {text} at position {start}", text, start)
    if name not in _ALLOWED:
        raise _error(f"Unknown placeholder {text}; allowed: {_ALLOWED_TEXT}", text, start)
    return (name, fallback), close + 1


def _compile(template: str) -> CompiledTemplate:
    if not template or template.isspace():
        raise TemplateError("Template must not be empty", position=0)
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(
            f"Template is {len(template)} characters long; the maximum is {MAX_TEMPLATE_LENGTH}",
            position=MAX_TEMPLATE_LENGTH,
        )

    parts: list[_Part] = []
    literal: list[str] = []

    def flush() -> None:
        text = "".join(literal)
        literal.clear()
        if text:
            parts.append(text)

    pos = 0
    while (match := _BRACE.search(template, pos)) is not None:
        i = match.start()
        literal.append(template[pos:i])
        doubled = template.startswith(template[i], i + 1)
        if doubled:
            literal.append(template[i])
            pos = i + 2
        elif template[i] == "}":
            raise _error(
                f"Unmatched '}}' at position {i}; write '}}}}' for a literal brace", "}", i
            )
        else:
            flush()
            slot, pos = _parse_placeholder(template, i)
            parts.append(slot)
    literal.append(template[pos:])
    flush()

    names = frozenset(part[0] for part in parts if not isinstance(part, str))
    return CompiledTemplate(source=template, placeholders=names, _parts=tuple(parts))


_compile_cached = lru_cache(maxsize=1024)(_compile)


def parse(template: str) -> CompiledTemplate:
    """Compile ``template`` (cached); raise :class:`TemplateError` if it is invalid."""
    if not isinstance(template, str):
        raise TypeError(f"template must be str, not {type(template).__name__}")
    return _compile_cached(template)


def render(template: str, values: Mapping[str, object | None]) -> str:
    """Render ``template`` with one customer's ``values``."""
    return parse(template).render(values)


def validate(template: str) -> None:
    """Raise :class:`TemplateError` if ``template`` is not a valid message template."""
    parse(template)
