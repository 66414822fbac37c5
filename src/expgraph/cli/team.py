"""Team server commands: ``token create|list|revoke``, ``audit-log verify``, ``project restrict|unrestrict|list``,
``retire``/``restore`` and ``backup``.

On a served store they go through the server's API (with the caller's token); on a store this command holds,
they act on it directly and the audit trail names the local user.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from expgraph.cli.common import CliError, err, out, print_json, print_table, state
from expgraph.store import EmbeddedStore
from expgraph.store.base import AUDIT, REGISTRY

token_app = typer.Typer(help="Tokens for the team server (kept hashed in the store directory).",
                        no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail of writes through the team server.", no_args_is_help=True)
project_app = typer.Typer(help="Private projects: visible only to admins and tokens naming them (admin).",
                          no_args_is_help=True)


class Role(StrEnum):
    reader = "reader"
    contributor = "contributor"
    curator = "curator"
    admin = "admin"


def _tokens(ctx: typer.Context):
    """The token file of the local store: token commands run on the server's machine (no token needed there)."""
    from expgraph.team.tokens import TokenStore

    settings = state(ctx).settings
    if settings.endpoint:
        raise CliError("tokens are managed on the server's machine: run this with --store DIR there, "
                       "not with --endpoint")
    if not EmbeddedStore.exists(settings.store):
        raise CliError(f"no store at {settings.store}: tokens are kept beside a store")
    return TokenStore.beside(settings.store)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who the token is for; audit entries name it.")],
    role: Annotated[Role, typer.Option(help="reader: read; contributor: import into their projects; curator: "
                                            "also retire/restore and load vocabularies; admin: everything.")],
    project: Annotated[list[str] | None, typer.Option(
        help="A project a contributor may import into (repeatable; none: any project).")] = None,
) -> None:
    """Create a token and print it once: only its hash is kept."""
    from expgraph.team.tokens import TokenError

    tokens = _tokens(ctx)
    try:
        secret = tokens.create(name, role.value, project or [], agent=_local_agent())
    except TokenError as error:
        raise CliError(str(error)) from None
    _record_token_changes(ctx, tokens)
    out.print(secret, highlight=False)
    err.print(f"token {escape(name)!r} ({role.value}) created: it is shown only now; give it to its owner, who "
              "passes it with --token or EXPGRAPH_TOKEN", highlight=False)


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
               ) -> None:
    """The tokens: name, role, projects, created (never the secrets)."""
    tokens = _tokens(ctx).list()
    if as_json:
        print_json([t.as_dict() for t in tokens])
        return
    print_table(["name", "role", "projects", "created"],
                ([t.name, t.role, ", ".join(t.projects) or "(any)", t.created] for t in tokens))


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from expgraph.team.tokens import TokenError

    tokens = _tokens(ctx)
    try:
        tokens.revoke(name, agent=_local_agent())
    except TokenError as error:
        raise CliError(str(error)) from None
    _record_token_changes(ctx, tokens)
    err.print(f"token {escape(name)!r} revoked", highlight=False)


def _record_token_changes(ctx: typer.Context, tokens) -> None:
    """Token changes into the audit trail: here when this command holds the store; when a server holds it, the
    server records them (at its next write or audit read) from the token table's journal."""
    from expgraph.team.audit import record_token_changes

    store = state(ctx).store()
    if not getattr(store, "served", False):
        record_token_changes(store, tokens, base=state(ctx).settings.base_iri)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the hash chain of the audit trail; exit 1 naming each entry that was edited, removed or added."""
    store = state(ctx).store()
    if getattr(store, "served", False):
        verdict = store.api("GET", "/api/v1/audit/verify").json()  # type: ignore[attr-defined]
        entries, problems = verdict["entries"], verdict["problems"]
    else:
        from expgraph.team.audit import verify

        result = verify(store)
        entries, problems = result.entries, list(result.problems)
    for problem in problems:
        err.print(f"[red]broken:[/red] {escape(problem)}", highlight=False)
    if problems:
        raise typer.Exit(1)
    out.print(f"audit trail intact: {entries} entries", highlight=False)


@audit_app.command("show")
def audit_show(ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many entries.")] = 20,
               as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """The latest writes, newest first: who, when, what, from where."""
    store = state(ctx).store()
    if getattr(store, "served", False):
        entries = store.api("GET", "/api/v1/audit", params={"limit": limit}).json()  # type: ignore[attr-defined]
    else:
        from expgraph.team.audit import recent

        entries = recent(store, limit)
    if as_json:
        print_json(entries)
        return
    print_table(["#", "time", "agent", "action", "graph or thing", "triples", "reason"],
                ([e.get("index", ""), e.get("time", ""), e.get("agent", ""), e.get("action", ""),
                  e.get("thing") or e.get("graph", ""), e.get("triples_after", ""), e.get("reason", "")]
                 for e in entries))


def _local_agent() -> str:
    import getpass

    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"


def _curate(ctx: typer.Context, action: str, iri: str, reason: str = "") -> None:
    from pyoxigraph import NamedNode

    from expgraph.team import actions

    store = state(ctx).store()
    if getattr(store, "served", False):
        changed = store.api("POST", f"/api/v1/{action}",  # type: ignore[attr-defined]
                            json={"iri": iri, "reason": reason}).json()["changed"]
    else:
        try:
            thing = NamedNode(iri)
        except ValueError:
            raise CliError(f"not an IRI: {iri!r}") from None
        where = {"agent": _local_agent(), "client": "local", "base": state(ctx).settings.base_iri}
        changed = (actions.retire(store, thing, reason, **where) if action == "retire"
                   else actions.restore(store, thing, **where))
    done = {"retire": "retired", "restore": "restored"}[action]
    out.print(f"{done} <{iri}>" if changed else f"<{iri}> was {done} already: nothing changed", highlight=False)


def retire_command(
    ctx: typer.Context,
    iri: Annotated[str, typer.Argument(help="The thing to retire (a run, experiment, dataset, result...).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail and shown on its page).")],
) -> None:
    """Retire a thing: it keeps its IRI and page, recorded as retired (why, by whom, when); curator."""
    _curate(ctx, "retire", iri, reason)


def restore_command(ctx: typer.Context,
                    iri: Annotated[str, typer.Argument(help="The retired thing to restore.")]) -> None:
    """Restore a retired thing; curator."""
    _curate(ctx, "restore", iri)


def purge_command(
    ctx: typer.Context,
    graph: Annotated[str, typer.Argument(help="IRI of the graph to remove (see expgraph stats).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
) -> None:
    """Remove a graph from the catalog for good, leaving an audit entry; admin (retire things instead, usually)."""
    from pyoxigraph import NamedNode

    from expgraph.team.actions import purge

    store = state(ctx).store()
    if getattr(store, "served", False):
        store.api("POST", "/api/v1/purge", json={"graph": graph, "reason": reason})  # type: ignore[attr-defined]
    else:
        if graph in (REGISTRY.value, AUDIT.value):
            raise CliError(f"<{graph}> is kept by the store itself and cannot be purged")
        purge(store, NamedNode(graph), reason, agent=_local_agent(), client="local",
              base=state(ctx).settings.base_iri)
    out.print(f"purged <{graph}>", highlight=False)


def backup_command(ctx: typer.Context, directory: Annotated[str, typer.Argument(
        help="A new directory (on the server's machine when the store is served).")]) -> None:
    """Back up the store (pyoxigraph's online backup) with its tokens; open the copy with --store DIRECTORY."""
    from pathlib import Path

    from expgraph.team.actions import backup

    store = state(ctx).store()
    target = Path(directory).resolve()
    if getattr(store, "served", False):
        store.api("POST", "/api/v1/backup", json={"directory": str(target)})  # type: ignore[attr-defined]
    else:
        backup(store, target)
    out.print(f"backed up {store.location} into {target}", highlight=False)


def _restriction(ctx: typer.Context, action: str, name: str) -> None:
    from expgraph.team import projects
    from expgraph.team.actions import NotFound

    store = state(ctx).store()
    if getattr(store, "served", False):
        answer = store.api("POST", f"/api/v1/projects/{action}", json={"project": name}).json()  # type: ignore
        project, changed = answer["project"], answer["changed"]
    else:
        base = state(ctx).settings.base_iri
        try:
            iri = projects.project_iri(name, base)
        except ValueError:
            raise CliError(f"not a project name or IRI: {name!r}") from None
        change = projects.restrict if action == "restrict" else projects.unrestrict
        try:
            changed = change(store, iri, agent=_local_agent(), client="local", base=base)
        except NotFound as error:
            raise CliError(str(error)) from None
        project = iri.value
    done = {"restrict": "restricted", "unrestrict": "unrestricted"}[action]
    out.print(f"{done} <{project}>" if changed else f"<{project}> was {done} already: nothing changed",
              highlight=False)


@project_app.command("restrict")
def project_restrict(ctx: typer.Context, name: Annotated[str, typer.Argument(
        help="The project's name (as --project gives it) or IRI.")]) -> None:
    """Make a project private: its graphs are hidden from every reader but admins and tokens naming it."""
    _restriction(ctx, "restrict", name)


@project_app.command("unrestrict")
def project_unrestrict(ctx: typer.Context, name: Annotated[str, typer.Argument(
        help="The project's name or IRI.")]) -> None:
    """Make a restricted project visible to every reader again."""
    _restriction(ctx, "unrestrict", name)


@project_app.command("list")
def project_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
                 ) -> None:
    """The restricted projects and the graphs each one hides."""
    store = state(ctx).store()
    if getattr(store, "served", False):
        listed = store.api("GET", "/api/v1/projects/restricted").json()  # type: ignore[attr-defined]
    else:
        from expgraph.team.projects import listing

        listed = listing(store)
    if as_json:
        print_json(listed)
        return
    print_table(["project", "graphs hidden"], ([e["project"], ", ".join(e["graphs"]) or "(none yet)"]
                                                for e in listed))


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.add_typer(audit_app, name="audit-log")
    app.add_typer(project_app, name="project")
    app.command("retire")(retire_command)
    app.command("restore")(restore_command)
    app.command("purge")(purge_command)
    app.command("backup")(backup_command)
