"""``/api/v1``: the team server's write API (and the reads the CLI needs), in the OpenAPI docs.

Writes are applied by the server with the store's own stage-and-swap, one at a time (a lock: imports from several
clients wait their turn), each with its audit entry in the same transaction. Reading needs what the catalog's pages
need (a token, or anonymous reading allowed for this client: see :mod:`expgraph.team.gate`).
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from pyoxigraph import NamedNode, RdfFormat, Triple

from expgraph._version import __version__
from expgraph.mapping import segment
from expgraph.namespaces import EG, GRAPHS
from expgraph.store import GraphInfo, Store, StoreError
from expgraph.store.base import AUDIT, REGISTRY
from expgraph.team import audit, projects
from expgraph.team.actions import RETIRED, NotFound, backup, purge, restore, retire
from expgraph.team.audit import AUDIT_READER
from expgraph.team.discovery import SERVICE
from expgraph.team.gate import UPLOAD_TYPES
from expgraph.team.tokens import Token
from expgraph.web.state import reader_of, state_of

router = APIRouter(prefix="/api/v1", tags=["team API"])
DIGEST_HEADER = "X-Expgraph-Digest"
SOURCE_DIGEST_HEADER = "X-Expgraph-Source-Digest"
#: A client's own name for its write, to find it in ``GET /api/v1/writes`` while it waits.
WRITE_ID_HEADER = "X-Expgraph-Write-Id"
#: Statements of the client's own import record (the AUDIT graph of an N-Quads upload) accepted with one upload.
MAX_CLIENT_AUDIT = 10_000


def _store(request: Request) -> Store:
    return state_of(request).store


def require_role(request: Request, role: str) -> Token:
    token: Token | None = request.state.token
    if token is None:
        raise HTTPException(401, f"this needs a token with the role {role} or above: send Authorization: Bearer "
                                 "TOKEN (expgraph --token / EXPGRAPH_TOKEN)",
                            headers={"WWW-Authenticate": 'Bearer realm="expgraph"'})
    if not token.allows(role):
        raise HTTPException(403, f"token {token.name!r} has the role {token.role}: this needs {role} or above")
    return token


@contextlib.contextmanager
def turn(request: Request, token: Token, action: str, target: str, write_id: str | None = None) -> Iterator[None]:
    """The server's write lock, this write listed as waiting then applying (``GET /api/v1/writes``); token
    changes made meanwhile on the server's machine are recorded first, so the trail keeps their order."""
    with request.app.state.team_writes.turn(token.name, action, target, write_id):
        record_pending_token_changes(request)
        yield


def record_pending_token_changes(request: Request) -> None:
    """Token changes journalled since the trail's last entry, into the trail. Call under the write lock."""
    audit.record_token_changes(_store(request), request.app.state.team_tokens,
                               base=state_of(request).settings.base_iri)


@router.get("/info", summary="What this server is (clients recognise an expgraph server by it)")
def info(request: Request) -> dict[str, object]:
    return {"service": SERVICE, "version": __version__, "api": 1, "sparql": "/sparql",
            "anonymous_read": request.state.may_read}


def _info_dict(info: GraphInfo) -> dict[str, object]:
    return {"name": info.name.value, "version": info.version.value, "digest": info.digest, "triples": info.triples,
            "modified": info.modified, "source_digest": info.source_digest}


@router.get("/graphs", summary="The active graphs: name, version, content digest, triple count")
def graphs(request: Request) -> list[dict[str, object]]:
    return [_info_dict(info) for info in reader_of(request).store.active_graphs().values()]  # those it may read


@dataclass
class Upload:
    """What a pre-pass over an uploaded file found, before anything is written."""

    triples: int = 0
    digest: str = ""
    client_audit: list[Triple] = field(default_factory=list)
    projects: set[str] = field(default_factory=set)


def inspect_upload(path: Path) -> Upload:
    """Parse the whole upload once: its syntax is checked, its content digest computed (as the store computes it,
    so an unchanged source is recognised), the projects it writes into listed, and the client's import record (the
    audit graph's statements of an N-Quads upload) set apart. Any other named graph is refused."""
    found = Upload()
    content = hashlib.sha256()
    with path.open("rb") as data:
        for quad in pyoxigraph.parse(data, RdfFormat.N_QUADS):
            graph = quad.graph_name
            if isinstance(graph, NamedNode):
                if graph != AUDIT:
                    raise ValueError(f"statements in graph <{graph.value}>: an upload holds one graph's content, "
                                     f"plus the import's record in <{AUDIT.value}>")
                if len(found.client_audit) >= MAX_CLIENT_AUDIT:
                    raise ValueError(f"more than {MAX_CLIENT_AUDIT} statements for <{AUDIT.value}>")
                found.client_audit.append(quad.triple)
                continue
            content.update(f"{quad.triple}\n".encode())
            found.triples += 1
            if quad.predicate == EG.inProject and isinstance(quad.object, NamedNode):
                found.projects.add(quad.object.value)
    found.digest = content.hexdigest()
    return found


def _content(path: Path) -> Iterator[Triple]:
    with path.open("rb") as data:
        for quad in pyoxigraph.parse(data, RdfFormat.N_QUADS):
            if not isinstance(quad.graph_name, NamedNode):
                yield quad.triple


def _held(content: Iterator[Triple], after: int, graph: NamedNode) -> Iterator[Triple]:
    """The content, stopped for good after ``after`` statements (the ``test_hold_apply`` setting; 0: never), saying
    so on stderr: a crash test kills the server there, with a staging version half written."""
    for count, triple in enumerate(content, 1):
        yield triple
        if count == after:
            print(f"test_hold_apply: holding the write of <{graph.value}> after {count} statements", file=sys.stderr,
                  flush=True)
            threading.Event().wait()


def upload_spool(store_dir: str | Path) -> Path:
    """Where the server spools uploads: beside the store it alone writes, so that a restart can remove what a
    crash left there (:func:`expgraph.team.actions.recover`)."""
    spool = Path(store_dir) / "uploads"
    spool.mkdir(parents=True, exist_ok=True)
    return spool


def _projects_of(store: Store, graph: NamedNode) -> set[str]:
    """The projects a graph's current content writes into (so that replacing it is judged by them too)."""
    if graph.value not in store.active_graphs():
        return set()
    rows = store.query(f"SELECT DISTINCT ?p WHERE {{ ?e {EG.inProject} ?p }}", graphs=[graph])
    return {row["p"].value for row in rows}  # type: ignore[union-attr]


def _check_target(graph: NamedNode, token: Token, upload: Upload, base: str, current: set[str]) -> None:
    """Contributors write import sources (``{base}graph/...``) of their own projects, both in what they upload and
    in what it replaces; other graphs (loaded RDF, vocabularies) need a curator; the store's own graphs nobody
    writes through the API."""
    if graph in (REGISTRY, AUDIT, RETIRED, projects.RESTRICTED) or graph.value.startswith((f"{GRAPHS}ontology/",)):
        raise HTTPException(403, f"<{graph.value}> is kept by the server itself and cannot be written")
    if not graph.value.startswith(f"{base}graph/") and not token.allows("curator"):
        raise HTTPException(403, f"token {token.name!r} (contributor) may write import sources only; loading "
                                 f"<{graph.value}> needs curator or above")
    if token.allows("curator") or not token.projects:
        return
    allowed = {f"{base}project/{segment(name)}" for name in token.projects}
    outside = sorted(upload.projects - allowed)
    if outside:
        raise HTTPException(403, f"token {token.name!r} may write into the projects {', '.join(token.projects)} "
                                 f"only; this upload writes into <{outside[0]}> (give --project)")
    replaced = sorted(current - allowed)
    if replaced:
        raise HTTPException(403, f"token {token.name!r} may write into the projects {', '.join(token.projects)} "
                                 f"only; <{graph.value}> holds records of <{replaced[0]}>")


@router.put(
    "/graphs",
    summary="Replace one graph's content (atomic; an unchanged content changes nothing)",
    openapi_extra={"requestBody": {"required": True, "content": {t: {"schema": {"type": "string"}}
                                                                  for t in UPLOAD_TYPES}}},
    responses={401: {"description": "no token"}, 403: {"description": "role or project not allowed"},
               413: {"description": "larger than max_upload_mb"}, 415: {"description": "not N-Triples/N-Quads"}},
)
def replace(request: Request, graph: str = Query(description="IRI of the graph to replace")) -> dict[str, object]:
    """The body (N-Triples, or N-Quads whose ``graphs/imports`` statements are the import's own record) becomes the
    graph's content. Headers: ``X-Expgraph-Digest`` identifies the content when the client knows it (a file's
    hash), ``X-Expgraph-Source-Digest`` what it was made from (kept for the next import of the same source)."""
    token = require_role(request, "contributor")
    try:
        name = NamedNode(graph)
    except ValueError:
        raise HTTPException(400, f"not an IRI: {graph!r}") from None
    return apply_upload(request, token, name, Path(request.state.upload), request.headers.get(DIGEST_HEADER) or None,
                        request.headers.get(SOURCE_DIGEST_HEADER) or None, request.headers.get(WRITE_ID_HEADER))


def apply_upload(request: Request, token: Token, name: NamedNode, spooled: Path, digest_hint: str | None = None,
                 source_digest: str | None = None, write_id: str | None = None, action: str = "replace"
                 ) -> dict[str, object]:
    """Check an N-Quads file (see :func:`inspect_upload`) and make it ``name``'s content for ``token``, with its
    audit entry: what ``PUT /api/v1/graphs`` does with its body, and ``POST /api/v1/records`` with a mapped record."""
    store, settings = _store(request), state_of(request).settings
    try:
        upload = inspect_upload(spooled)
    except (SyntaxError, ValueError) as error:
        raise HTTPException(400, f"the upload is not valid: {error}") from None
    # one write at a time; readers see the old version until the swap
    with turn(request, token, action, name.value, write_id):
        current = _projects_of(store, name)
        _check_target(name, token, upload, settings.base_iri, current)
        if not projects.may_write(store, token, settings.base_iri, upload.projects | current):
            raise HTTPException(403, f"token {token.name!r} may not write into a restricted project it does not name")
        before = store.active_graphs().get(name.value)
        change = audit.Change(action, name, before, digest_hint or upload.digest, upload.triples, source_digest)
        trail = upload.client_audit + audit.entry(store, change, agent=token.name, client=request.state.client,
                                                  base=settings.base_iri)
        content = _held(_content(spooled), settings.test_hold_apply, name)
        if digest_hint is not None:
            changed = store.replace_graph(name, content, digest=digest_hint, audit=trail)
        else:
            changed = store.replace_statements(name, (str(t) for t in content), audit=trail,
                                               source_digest=source_digest)
        after = store.active_graphs()[name.value]
    return {"graph": name.value, "changed": changed, "triples": after.triples, "digest": after.digest}


@router.get("/writes", summary="The write being applied and those waiting behind it")
def writes(request: Request) -> list[dict[str, object]]:
    listed = request.app.state.team_writes.snapshot()
    reader = reader_of(request)
    if reader.scope.unrestricted:
        return listed
    visible = reader.store.active_graphs()  # a caller kept from a private project does not learn what it writes
    return [w if w["target"] in visible else {**w, "target": "(not visible to this token)"} for w in listed]


@router.get("/audit/verify", summary="Check the audit trail's hash chain (contributor)",
            responses={401: {"description": "no token"}, 403: {"description": "reader"}})
def verify_audit(request: Request) -> dict[str, object]:
    require_role(request, AUDIT_READER)
    verdict = audit.verify(_store(request))
    return {"entries": verdict.entries, "ok": verdict.ok, "problems": list(verdict.problems)}


class Retirement(BaseModel):
    iri: str
    reason: str = ""


def _thing(iri: str) -> NamedNode:
    try:
        return NamedNode(iri)
    except ValueError:
        raise HTTPException(400, f"not an IRI: {iri!r}") from None


@router.post("/retire", summary="Retire a thing: hidden by default, still resolvable (curator)")
def retire_route(request: Request, body: Retirement) -> dict[str, object]:
    token = require_role(request, "curator")
    with turn(request, token, "retire", body.iri):
        try:
            changed = retire(_store(request), _thing(body.iri), body.reason, agent=token.name,
                             client=request.state.client, base=state_of(request).settings.base_iri,
                             visible=reader_of(request).store)
        except NotFound as error:
            raise HTTPException(404, str(error)) from None
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
    return {"iri": body.iri, "changed": changed}


@router.post("/restore", summary="Restore a retired thing (curator)")
def restore_route(request: Request, body: Retirement) -> dict[str, object]:
    token = require_role(request, "curator")
    with turn(request, token, "restore", body.iri):
        try:
            changed = restore(_store(request), _thing(body.iri), agent=token.name, client=request.state.client,
                              base=state_of(request).settings.base_iri, visible=reader_of(request).store)
        except NotFound as error:
            raise HTTPException(404, str(error)) from None
    return {"iri": body.iri, "changed": changed}


class ProjectName(BaseModel):
    project: str  # a name as --project gives it, or the project's IRI


@router.get("/projects/restricted", summary="The restricted projects and the graphs holding each (admin)")
def restricted_projects(request: Request) -> list[dict[str, object]]:
    require_role(request, "admin")
    return projects.listing(_store(request))


@router.post("/projects/restrict", summary="Make a project visible only to tokens naming it and admins (admin)")
def restrict_route(request: Request, body: ProjectName) -> dict[str, object]:
    return _restriction(request, "restrict", body.project)


@router.post("/projects/unrestrict", summary="Make a restricted project visible to every reader again (admin)")
def unrestrict_route(request: Request, body: ProjectName) -> dict[str, object]:
    return _restriction(request, "unrestrict", body.project)


def _restriction(request: Request, action: str, name: str) -> dict[str, object]:
    token = require_role(request, "admin")
    base = state_of(request).settings.base_iri
    try:
        project = projects.project_iri(name, base)
    except ValueError:
        raise HTTPException(400, f"not a project name or IRI: {name!r}") from None
    change = projects.restrict if action == "restrict" else projects.unrestrict
    with turn(request, token, action, project.value):
        try:
            changed = change(_store(request), project, agent=token.name, client=request.state.client, base=base)
        except NotFound as error:
            raise HTTPException(404, str(error)) from None
    return {"project": project.value, "changed": changed}


class Purge(BaseModel):
    graph: str
    reason: str = ""


@router.post("/purge", summary="Remove a graph for good, leaving an audit entry (admin)")
def purge_route(request: Request, body: Purge) -> dict[str, object]:
    token = require_role(request, "admin")
    name = _thing(body.graph)
    if name in (REGISTRY, AUDIT):
        raise HTTPException(403, f"<{name.value}> is kept by the server itself and cannot be purged")
    with turn(request, token, "purge", name.value):
        try:
            purge(_store(request), name, body.reason, agent=token.name, client=request.state.client,
                  base=state_of(request).settings.base_iri)
        except NotFound as error:
            raise HTTPException(404, str(error)) from None
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
    return {"graph": body.graph, "changed": True}


class BackupTarget(BaseModel):
    directory: str


@router.post("/backup", summary="Back up the store into a new directory on the server's machine (admin)")
def backup_route(request: Request, body: BackupTarget) -> dict[str, object]:
    token = require_role(request, "admin")
    target = Path(body.directory)
    if not target.is_absolute():
        raise HTTPException(400, "give an absolute directory on the server's machine")
    with turn(request, token, "backup", str(target)):  # a backup between two writes, never during one
        try:
            backup(_store(request), target)
        except (StoreError, OSError) as error:
            raise HTTPException(400, str(error)) from None
    return {"directory": str(target)}
