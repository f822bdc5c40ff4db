"""Prompt templates are files (``prompts/*.md``), loaded by name.

They ship inside the ``prompts`` package, so an installed wheel finds them too. Templates use
``$name`` placeholders (``string.Template``): Markdown and JSON braces need no escaping, and a missing
value is an error instead of a silent blank.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template
from typing import Any


class PromptError(LookupError):
    """A prompt file is missing or a placeholder has no value."""


@cache
def _source(name: str) -> str:
    resource = resources.files("prompts").joinpath(f"{name}.md")
    if not resource.is_file():
        known = ", ".join(names()) or "none"
        raise PromptError(f"no prompt named {name!r} in the prompts package (known: {known})")
    return resource.read_text(encoding="utf-8")


def names() -> list[str]:
    """Every prompt shipped with the package."""
    return sorted(p.name[:-3] for p in resources.files("prompts").iterdir() if p.name.endswith(".md"))


def placeholders(name: str) -> set[str]:
    """The ``$name`` placeholders a prompt expects."""
    return set(Template(_source(name)).get_identifiers())


def render(name: str, **values: Any) -> str:
    """The prompt ``name`` with its placeholders filled; raises :class:`PromptError` when one is missing."""
    try:
        return Template(_source(name)).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise PromptError(f"prompt {name!r} needs a value for ${exc.args[0]}") from None
