"""Translatable text in core: messages marked for extraction, translated into the caller's language once web runs.

Core imports no web framework, so its messages go through `gettext`/`ngettext` here: web installs its translator
(Flask-Babel, the request's or the kiosk's language) when the app is made; without one, or outside a request,
the English text results. Messages use `%(name)s` placeholders and are translated when the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Gettext = Callable[..., str]


@dataclass(slots=True)
class _Translator:
    gettext: Gettext | None = None
    ngettext: Gettext | None = None


_installed = _Translator()


def install(gettext: Gettext, ngettext: Gettext) -> None:
    """Make core's messages follow the caller's language (web calls this with Flask-Babel's functions)."""
    _installed.gettext, _installed.ngettext = gettext, ngettext


def N_(message: str) -> str:
    """Marks `message` for extraction where it is declared (at import time); pass it to `gettext` when shown."""
    return message


def gettext(message: str, **params: object) -> str:
    if _installed.gettext is not None:
        return str(_installed.gettext(message, **params))
    return message % params if params else message


def ngettext(singular: str, plural: str, num: int, **params: object) -> str:
    """The singular or plural form for `num`, which the message shows as %(num)s."""
    if _installed.ngettext is not None:
        return str(_installed.ngettext(singular, plural, num, **params))  # it adds num to the parameters itself
    return (singular if num == 1 else plural) % {"num": num, **params}
