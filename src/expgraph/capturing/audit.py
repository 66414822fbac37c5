"""``expgraph audit``: do the links captured runs recorded still hold?

For every run captured at launch (it has an ``eg:command``), optionally of one project: its commit must still be an
object of the repository it was read from (``git cat-file -e``), and each input file and each lock file of its
environment must still have the SHA-256 recorded for it. Each link checked becomes an ``eg:LinkCheck`` of one
``eg:AuditActivity`` (a ``prov:Activity`` with its start and end), stored in a graph of its own per scope
(``.../graph/audit/all`` or ``.../graph/audit/project/NAME``) that the next audit of the same scope replaces: so
the catalog says when each link was last verified and whether it held.
"""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Triple

from expgraph import namespaces as ns
from expgraph.capturing.git import commit_exists
from expgraph.capturing.hashing import HashCache
from expgraph.mapping import boolean, date_time, segment
from expgraph.store import Store

#: The links of captured runs: (entity, kind, location, commit or recorded checksum). ``$project`` is bound.
LINKS = """
PREFIX eg: <https://w3id.org/expgraph#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX spdx: <http://spdx.org/rdf/terms#>
SELECT DISTINCT ?entity ?kind ?location ?expected ?project WHERE {
  ?run eg:command ?command .
  %s
  {
    ?run prov:used ?entity . ?entity eg:commitHash ?expected ; eg:location ?location . BIND("commit" AS ?kind)
  } UNION {
    ?run prov:used ?entity . ?entity a dcat:Dataset ; eg:location ?location ;
         spdx:checksum [ spdx:algorithm spdx:checksumAlgorithm_sha256 ; spdx:checksumValue ?expected ] .
    BIND("input" AS ?kind)
  } UNION {
    ?run prov:used/eg:lockFile ?entity . ?entity eg:location ?location ;
         spdx:checksum [ spdx:algorithm spdx:checksumAlgorithm_sha256 ; spdx:checksumValue ?expected ] .
    BIND("lock file" AS ?kind)
  }
}
ORDER BY ?kind ?location ?entity
"""
_IN_PROJECT = "?run eg:inExperiment/eg:inProject/dct:identifier ?project ."


@dataclass(frozen=True)
class Check:
    entity: str
    kind: str  # "commit", "input", "lock file"
    location: str
    expected: str
    problem: str | None  # None: the link holds

    def as_dict(self) -> dict[str, object]:
        return {"entity": self.entity, "kind": self.kind, "location": self.location, "expected": self.expected,
                "holds": self.problem is None, "problem": self.problem}


def _check(kind: str, location: str, expected: str, hashes: HashCache) -> str | None:
    path = Path(location)
    if kind == "commit":
        exists = commit_exists(path, expected)
        if exists is None:
            return f"no git repository at {location} any more"
        return None if exists else f"commit {expected} no longer exists in {location}"
    if not path.exists():
        return f"{location} no longer exists"
    try:
        actual, _ = hashes.digest(path)
    except OSError as error:
        return f"{location} cannot be read ({error.strerror})"
    return None if actual == expected else f"{location} changed: sha256 {actual}, recorded {expected}"


def audit(store: Store, hashes: HashCache, project: str | None = None) -> list[Check]:
    """Check every recorded link of captured runs (of ``project``); nothing is written."""
    query = LINKS % (_IN_PROJECT if project else "")
    rows = store.select(query, **({"project": Literal(project)} if project else {}))
    return [Check(row["entity"].value, row["kind"].value, row["location"].value, row["expected"].value,
                  _check(row["kind"].value, row["location"].value, row["expected"].value, hashes))
            for row in rows]


def audit_graph(project: str | None) -> NamedNode:
    return NamedNode(f"{ns.GRAPHS}audit/" + (f"project/{segment(project)}" if project else "all"))


def record_audit(store: Store, checks: list[Check], *, started: datetime, project: str | None,
                 base: str) -> NamedNode:
    """Store the audit as a PROV activity with one ``eg:LinkCheck`` per link, replacing the scope's last audit."""
    activity = NamedNode(f"{base}audit/{uuid.uuid4().hex}")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    agent = NamedNode(f"{base}agent/{segment(user)}")
    label = f"audit of captured runs{f' of project {project}' if project else ''}"
    triples = [
        Triple(activity, ns.RDF.type, ns.EG.AuditActivity),
        Triple(activity, ns.RDF.type, ns.PROV.Activity),
        Triple(activity, ns.RDFS.label, Literal(label)),
        Triple(activity, ns.PROV.startedAtTime, date_time(started)),
        Triple(activity, ns.PROV.endedAtTime, date_time(datetime.now(UTC))),
        Triple(activity, ns.PROV.wasAssociatedWith, agent),
        Triple(agent, ns.RDF.type, ns.PROV.Agent),
        Triple(agent, ns.RDFS.label, Literal(user)),
    ]
    for index, check in enumerate(checks):
        node = NamedNode(f"{activity.value}/check/{index}")
        entity = NamedNode(check.entity)
        triples += [
            Triple(activity, ns.EG.checked, node),
            Triple(activity, ns.PROV.used, entity),
            Triple(node, ns.RDF.type, ns.EG.LinkCheck),
            Triple(node, ns.EG.checkedEntity, entity),
            Triple(node, ns.EG.linkHolds, boolean(check.problem is None)),
            Triple(node, ns.PROV.wasGeneratedBy, activity),
        ]
        if check.problem:
            triples.append(Triple(node, ns.EG.problem, Literal(check.problem)))
    store.replace_graph(audit_graph(project), triples)
    return activity
