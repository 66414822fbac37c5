"""One data dict, two renderings: HTML through a Jinja2 template, or the same dict as JSON (the data twin)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from expgraph.formats import RESOURCE_FORMATS
from expgraph.web.state import state_of
from expgraph.wording import noun, plural

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape is on for .html templates
templates.env.filters.update(plural=plural, noun=noun)  # {{ n|plural("value") }}: "1 value"; n|noun: "value"


def wants_json(request: Request) -> bool:
    """``?format=json``, or an Accept header that prefers JSON to HTML."""
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


#: What a URL path carries unchanged: RFC 3986 path characters and %XX escapes (no ``?``, ``#``, spaces or
#: non-ASCII, which clients cut off or encode).
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


def resource_url(base: str, iri: str) -> str:
    """The catalog URL of any resource, made here only: ``/id/REST`` for an IRI minted under ``base`` whose rest
    reaches the server unchanged, ``/resource?iri=`` for every other (clients resolve ``.`` and ``..`` segments
    away, so ``/id/experiment/.`` would ask for ``/id/experiment/``)."""
    if iri.startswith(base) and len(iri) > len(base):
        rest = iri[len(base):]
        if _PATH.fullmatch(rest) and not {".", ".."} & set(rest.split("/")):
            return "/id/" + rest
    return "/resource?" + urlencode({"iri": iri})


def href(request: Request, iri: str | None) -> str | None:
    """A link to a resource's page for http(s) IRIs, and no link at all for anything else (``javascript:``,
    ``urn:``, ...)."""
    if not iri or not iri.startswith(("http://", "https://")):
        return None
    return resource_url(state_of(request).settings.base_iri, iri)


def page_url(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one); for facets, sorting, paging."""
    # multi_items: repeated parameters (a run list's columns and filters) stay repeated
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and k != "format"]
    params += [(k, v) for k, v in changes.items() if v is not None]
    return request.url.path + ("?" + urlencode(params, quote_via=quote) if params else "")


def respond(request: Request, template: str, data: dict[str, Any], *, status: int = 200) -> Response:
    if wants_json(request):
        return JSONResponse(data, status_code=status)
    alternates = alternate_links(state_of(request).settings.base_iri, data.get("iri", "")) if status < 400 else []
    context = {"data": data, "alternate_links": alternates,
               "href": lambda iri: href(request, iri),
               "page_url": lambda **kw: page_url(request, **kw)}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Vary"] = "Accept"
    return response


#: The RDF forms of a resource page by URL suffix, from the one formats registry.
_SUFFIXES = {f.suffixes[0]: f.media_type for f in RESOURCE_FORMATS}


def alternate_links(base: str, iri: str) -> list[tuple[str, str]]:
    """(media type, URL) of the RDF forms of a resource page, for ``<link rel="alternate">``: the page's URL with
    a format suffix (``/id/...``) or parameter (``/resource?iri=...``)."""
    if not iri:
        return []
    url = resource_url(base, iri)
    if url.startswith("/id/"):
        return [(media, url + suffix) for suffix, media in _SUFFIXES.items()]
    return [(media, url + "&" + urlencode({"format": suffix.lstrip(".")})) for suffix, media in _SUFFIXES.items()]
