"""The jinja2 environment of lavad's HTML pages (job and result pages, the events page,
the XML-RPC and REST help pages): one loader over ``lavad/templates``, HTML autoescaped."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from lavad import TEMPLATE_DIR
from lavad.notify.compose import lava_time

if TYPE_CHECKING:
    import jinja2


@functools.lru_cache(maxsize=None)
def environment(trim: bool = False) -> "jinja2.Environment":
    """The shared environment; ``trim`` drops the whitespace of block tags (help pages).
    Made at the first page served: Jinja2 is not imported before."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             autoescape=jinja2.select_autoescape(["html"]),
                             trim_blocks=trim, lstrip_blocks=trim)
    env.filters["lava_time"] = lava_time
    return env
