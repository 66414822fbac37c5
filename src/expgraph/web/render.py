"""One data dict, two renderings: HTML through a Jinja2 template, or the same dict as JSON (the data twin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape is on for .html templates


def wants_json(request: Request) -> bool:
    """``?format=json``, or an Accept header that prefers JSON to HTML."""
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def href(request: Request, iri: str | None) -> str | None:
    """The catalog URL of a resource: ``/id/...`` under this server's base, ``/resource?iri=`` for other http(s)
    IRIs, and no link at all for anything else (``javascript:``, ``urn:``, ...)."""
    if not iri or not iri.startswith(("http://", "https://")):
        return None
    base = request.app.state.settings.base_iri
    if iri.startswith(base) and len(iri) > len(base):
        return "/id/" + iri[len(base):]
    return "/resource?" + urlencode({"iri": iri})


def page_url(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one); for facets, sorting, paging."""
    params = {k: v for k, v in request.query_params.items() if k not in changes and k != "format"}
    params.update({k: v for k, v in changes.items() if v is not None})
    return request.url.path + ("?" + urlencode(params, quote_via=quote) if params else "")


def respond(request: Request, template: str, data: dict[str, Any], *, status: int = 200) -> Response:
    if wants_json(request):
        return JSONResponse(data, status_code=status)
    context = {"data": data, "alternate_links": alternate_links(request.url.path, data.get("iri", "")),
               "href": lambda iri: href(request, iri),
               "page_url": lambda **kw: page_url(request, **kw)}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Vary"] = "Accept"
    return response


_SUFFIXES = {".ttl": "text/turtle", ".jsonld": "application/ld+json", ".nt": "application/n-triples"}


def alternate_links(path: str, iri: str) -> list[tuple[str, str]]:
    """(media type, URL) of the RDF forms of a resource page, for ``<link rel="alternate">``."""
    if not iri:
        return []
    if path.startswith("/id/"):
        return [(media, path + suffix) for suffix, media in _SUFFIXES.items()]
    return [(media, "/resource?" + urlencode({"iri": iri, "format": suffix.lstrip(".")}))
            for suffix, media in _SUFFIXES.items()]
