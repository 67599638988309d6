"""Extension point for per-customer personalization (e.g. AI rewriting)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from campaign_dispatch.templating.bounds import check_rendered_length
from campaign_dispatch.templating.engine import render


@runtime_checkable
class Personalizer(Protocol):
    """Turns a campaign template into the text sent to one customer.

    Contract for every implementation: an invalid template raises ``TemplateError``,
    and so does a rendering longer than ``channel`` carries (``MAX_RENDERED_LENGTH``);
    otherwise it never raises, and the result is never longer than that bound.
    """

    async def personalize(
        self, template: str, customer: Mapping[str, object | None], *, channel: str
    ) -> str: ...


class TemplatePersonalizer:
    """Deterministic personalizer: plain placeholder substitution, bounded per channel.

    An AI personalizer should wrap this one rather than replace it: render with
    ``TemplatePersonalizer`` first, then let the model rewrite the rendered text for
    ``channel``; on any model error, timeout, or an answer that is empty or longer than
    the channel allows (``check_rendered_length``), return the rendered text unchanged
    (this one has already checked it against that bound). That keeps the guarantees above
    and means customer data only reaches the model already escaped from template syntax.
    """

    async def personalize(
        self, template: str, customer: Mapping[str, object | None], *, channel: str
    ) -> str:
        return check_rendered_length(render(template, customer), channel)
