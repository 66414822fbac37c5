"""``expgraph history SOURCE`` (a source graph's kept versions, and what changed between two) and
``expgraph restore-backup DIR`` (a backup made by ``expgraph backup`` restored into a new store directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from expgraph.cli.common import CliError, out, print_json, print_table, state
from expgraph.cli.data import TextFormat


def history_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The graph's IRI (or a part of it only one graph's IRI holds; "
                                                "expgraph stats lists them).")],
    fmt: Annotated[TextFormat, typer.Option("--format", help="Output format.")] = TextFormat.text,
    show_changes: Annotated[bool, typer.Option("--changes", help="Also what changed (runs added, removed, "
                                                                 "changed) from --from to --to.")] = False,
    old: Annotated[str | None, typer.Option("--from", help="Version id to compare from (default: the previous "
                                                            "one).")] = None,
    new: Annotated[str | None, typer.Option("--to", help="Version id to compare to (default: the active "
                                                          "one).")] = None,
) -> None:
    """The versions of a source graph the store keeps (settings history_keep, history_days): when, by whom,
    triples, digest; with --changes, the runs added, removed and changed between two of them."""
    from expgraph.source_history import changes, find_graph, history, pick

    store = state(ctx).store()
    compare = show_changes or old is not None or new is not None
    if getattr(store, "served", False):  # the /history page's data twin, with the server's scope for this token
        params = {"source": source, "format": "json", **({"from": old} if old else {}), **({"to": new} if new else {})}
        data = store.api("GET", "/history", params=params).json()  # type: ignore[attr-defined]
    else:
        graph = find_graph(store, source)
        entries = history(store, graph)
        data = {"source": graph.value, "versions": [e.as_dict() for e in entries], "from": None, "to": None,
                "changes": None}
        if compare:
            before, after = pick(entries, old, 1), pick(entries, new, 0)
            data.update({"from": before.id, "to": after.id,
                         "changes": changes(store, before.version.version, after.version.version)})
    if not compare:
        data.update({"from": None, "to": None, "changes": None})
    if fmt is TextFormat.json:
        print_json(data)
        return
    print_table(["version", "active from", "replaced", "by", "triples", "digest"],
                ([v["id"] + (" (active)" if v["active"] else ""), v["activated"], v["superseded"] or "",
                  v["by"] or "", v["triples"], v["digest"][:12]] for v in data["versions"]))
    found = data["changes"]
    if found is None:
        return
    out.print(f"from {data['from']} to {data['to']}:", highlight=False)
    rows = [("added", r["run"], r.get("label") or "", "") for r in found["added"]]
    rows += [("removed", r["run"], r.get("label") or "", "") for r in found["removed"]]
    rows += [("changed", r["run"], r.get("label") or "", ", ".join(r["properties"])) for r in found["changed"]]
    print_table(["change", "run", "label", "properties"], rows)


def restore_backup_command(
    ctx: typer.Context,
    directory: Annotated[str, typer.Argument(help="A backup made by expgraph backup.")],
) -> None:
    """Restore a backup into the store directory (--store), which must be new or empty: never over a catalog."""
    from expgraph.team.actions import restore_backup

    settings = state(ctx).settings
    if settings.endpoint:
        raise CliError("a backup is restored into a local store directory: give --store DIR, not --endpoint")
    target = Path(settings.store)
    graphs = restore_backup(Path(directory), target)
    out.print(f"restored {directory} into {target}: {graphs} graphs; serve it with expgraph --store {target} serve",
              highlight=False)


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
    app.command("restore-backup")(restore_backup_command)
