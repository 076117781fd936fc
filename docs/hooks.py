"""MkDocs hook (mkdocs.yml ``hooks``): the docstrings cross-reference in Sphinx's style
(``:func:`name```, ``:class:`~pkg.Name```); in the API reference those read as the code they name."""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):<code>~?")


def on_page_content(html: str, **_: Any) -> str:
    return ROLE.sub("<code>", html)
