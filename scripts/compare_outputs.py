"""Before/after identity of what expgraph shows its users (issue #14: a renovation with no behaviour change).

    PYTHONPATH=<tree>/src python scripts/compare_outputs.py dump DIR [--runs 10000] [--work WORK]
    python scripts/compare_outputs.py diff BEFORE AFTER          # exit 1 on any difference, with a summary

``dump`` runs against whichever expgraph the path holds (an old checkout too) and writes, for two catalogs, the
demo (``expgraph demo --no-serve``) and a synthetic one (``build_store``, from ``benchmarks/synthetic.py`` or,
on older trees, ``expgraph.synthetic``):

- every crawled page of the web catalog as HTML and as JSON (the app in-process through FastAPI's TestClient,
  breadth first from ``/`` over same-origin links, bounded as ``POLICIES`` says: a few URLs of each shape, up to
  80 (demo) or 50 (synthetic) resources of each kind, every facet link of the lists);
- every saved query's result (``expgraph query NAME --format json``, rows sorted), with its defaults and, where a
  query takes a project or a run, with the catalog's first project and first failed run;
- the exports (``expgraph export``: N-Quads with its lines sorted, Turtle as written);
- ``expgraph validate --format json`` and ``--format turtle`` (stdout and exit code);
- ``/sparql`` answers to a few queries (SELECT, ASK, CONSTRUCT, the service description) in every results
  format the endpoint offers.

What is normalised, and only this (everything else must match byte for byte):

- **timestamps of the dump itself** (import activity start/end, the registry's ``started``/``modified``, stored
  validation times): any ISO date-time from 10 minutes before the dump started to 6 hours after becomes
  ``<DUMP-TIME>``; dates and times in the data are years older and stay as they are;
- **graph version IRIs** (``.../version/<12 random hex digits>``, also percent-encoded in links) become
  ``.../version/<V>``;
- **timing figures**: the ``seconds`` of JSON answers (query pages, ``/sparql`` page, ``validate``) and the
  ``in 0.012 s`` of their HTML;
- **blank node labels** in N-Quads and N-Triples (fresh on every export) are relabelled in order of first
  appearance after sorting with the labels hidden.

Stores are built under a fixed work directory (``--work``, default ``/tmp/expgraph-compare``), because the demo's
source IRIs are minted from the absolute path of its example copies: dumps compare only when built with the same
``--work`` (``diff`` checks the manifests). The work directory is locked while a dump runs.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import fcntl
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urljoin, urlsplit

DEFAULT_WORK = Path("/tmp/expgraph-compare")
CATALOGS = ("demo", "synthetic")
RUN_ARGV0 = "import sys; from expgraph.cli import main; sys.argv[0] = 'expgraph'; main()"

# ---------------------------------------------------------------------------------------------- normalisation


class Normaliser:
    """The legitimate variation of one dump (see the module doc), removed from every text written."""

    #: ISO date-times, also percent-encoded once or twice in IRIs and links (``12%3A42%3A00``).
    _DATETIME = re.compile(r"\b(\d{4}-\d{2}-\d{2})[T ](\d{2}(?::|%3A|%253A)\d{2}(?:(?::|%3A|%253A)\d{2}(?:\.\d+)?)?)"
                           r"(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE)
    _VERSION = re.compile(r"(/|%2F)version(/|%2F)[0-9a-f]{12}\b", re.IGNORECASE)
    _SECONDS_HTML = re.compile(r"\bin \d+(?:\.\d+)? s\b")

    def __init__(self, started: datetime, before: timedelta = timedelta(minutes=10),
                 after: timedelta = timedelta(hours=6)) -> None:
        self.low, self.high = started - before, started + after

    def _stamp(self, match: re.Match[str]) -> str:
        date, clock, zone = match.groups()
        clock = re.sub("%(?:25)?3A", ":", clock, flags=re.IGNORECASE)
        try:
            when = datetime.fromisoformat(f"{date}T{clock}{(zone or 'Z').replace('Z', '+00:00')}")
        except ValueError:
            return match.group(0)
        return "<DUMP-TIME>" if self.low <= when <= self.high else match.group(0)

    def text(self, text: str) -> str:
        text = self._DATETIME.sub(self._stamp, text)
        text = self._VERSION.sub(lambda m: f"{m.group(1)}version{m.group(2)}<V>", text)
        return self._SECONDS_HTML.sub("in <S> s", text)

    def json(self, value: object) -> object:
        if isinstance(value, dict):
            return {k: ("<S>" if k == "seconds" and isinstance(v, int | float) else self.json(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return self.text(value) if isinstance(value, str) else value


_BLANK = re.compile(r"_:[A-Za-z0-9_.\-]+")


def sorted_lines(text: str, rounds: int = 4) -> str:
    """N-Triples / N-Quads lines sorted, blank nodes relabelled from their neighbourhood (a few rounds of colour
    refinement: a node's colour is the sorted lines it occurs in, with its neighbours' colours), so that two
    serialisations of one graph with fresh labels come out identical."""
    lines = sorted({line for line in text.splitlines() if line.strip()})
    blanks = sorted({label for line in lines for label in _BLANK.findall(line)})
    if not blanks:
        return "\n".join(lines) + "\n"
    occurs: dict[str, list[str]] = {label: [] for label in blanks}
    for line in lines:
        for label in set(_BLANK.findall(line)):
            occurs[label].append(line)
    colour = dict.fromkeys(blanks, "")

    def recolour(label: str, previous: dict[str, str]) -> str:
        seen = (_BLANK.sub(lambda m: "_:self" if m.group(0) == label else f"_:{previous[m.group(0)]}", line)
                for line in occurs[label])
        return hashlib.sha256("\n".join(sorted(seen)).encode()).hexdigest()

    for _ in range(rounds):
        colour = {label: recolour(label, colour) for label in blanks}
    names = {label: f"_:b{rank}" for rank, label in enumerate(sorted(blanks, key=lambda b: (colour[b], b)))}
    return "\n".join(sorted(_BLANK.sub(lambda m: names[m.group(0)], line) for line in lines)) + "\n"


#: RDF media types whose bodies are compared as canonical N-Triples/N-Quads: their serialisers follow the store's
#: internal order and mint fresh blank node labels, neither of which is behaviour.
RDF_TYPES = {"text/turtle": "TURTLE", "application/n-triples": "N_TRIPLES", "application/ld+json": "JSON_LD",
             "application/rdf+xml": "RDF_XML", "application/n-quads": "N_QUADS", "application/trig": "TRIG"}
#: Placeholders made parseable (a dump already normalised is canonicalised again by ``renormalise``).
_PLACEHOLDERS = {"<DUMP-TIME>": "DUMP-TIME", "<V>": "V", "<S>": "S"}


_CANONICAL = "# canonical N-Quads of an RDF body"
_OLD_MARK = re.compile(r"# canonical N-Quads of an? [A-Za-z0-9/+.;=\- ]*? body")


def canonical_rdf(text: str, media_type: str) -> str:
    """An RDF body as sorted N-Quads with canonical blank nodes, marked as such; the text itself if it does not
    parse (then it is compared as it is)."""
    import pyoxigraph

    for placeholder, token in _PLACEHOLDERS.items():
        text = text.replace(placeholder, token)
    try:
        fmt = getattr(pyoxigraph.RdfFormat, RDF_TYPES[media_type.split(";")[0].strip()])
        quads = pyoxigraph.parse(text.encode(), fmt, base_iri="http://testserver/")
        nquads = pyoxigraph.serialize(quads, format=pyoxigraph.RdfFormat.N_QUADS).decode()
    except (SyntaxError, ValueError, KeyError, AttributeError):
        return text
    return f"{_CANONICAL}\n" + sorted_lines(nquads)


# ----------------------------------------------------------------------------------------------- the catalogs


def cli(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One ``expgraph`` command of the measured tree (same interpreter and path), in UTC."""
    env = dict(os.environ, TZ="UTC", COLUMNS="200", NO_COLOR="1")
    for name in ("EXPGRAPH_STORE", "EXPGRAPH_ENDPOINT", "EXPGRAPH_CONFIG", "EXPGRAPH_BASE_IRI"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", RUN_ARGV0, "--store", str(store), *args], env=env,
                          capture_output=True, text=True, timeout=3600, cwd=store.parent)
    if check and done.returncode not in (0, 1):
        raise SystemExit(f"expgraph {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def build_demo(store: Path) -> str:
    return cli(store, "demo", "--no-serve", "--format", "json").stdout


def synthetic_module() -> ModuleType:
    """The measured tree's synthetic generator: benchmarks/synthetic.py, or ``expgraph.synthetic`` before the move."""
    import expgraph

    benchmarks = Path(expgraph.__file__).resolve().parents[2] / "benchmarks"
    if (benchmarks / "synthetic.py").exists():
        sys.path.insert(0, str(benchmarks))
        return importlib.import_module("synthetic")
    return importlib.import_module("expgraph.synthetic")


def build_synthetic(store: Path, runs: int) -> str:
    synthetic_module().build_store(runs, store).close()
    return json.dumps({"runs": runs}) + "\n"


# ------------------------------------------------------------------------------------------- CLI-side outputs


def first_iris(store: Path) -> dict[str, str]:
    """The catalog's first project and first failed run (by IRI), to give saved queries a real argument."""
    query = """PREFIX eg: <https://w3id.org/expgraph#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?project ?run WHERE {
          { SELECT (MIN(STR(?p)) AS ?project) WHERE { ?p a eg:Project } }
          { SELECT (MIN(STR(?r)) AS ?run) WHERE { ?r a eg:Run ; eg:status/skos:notation "failed" } } }"""
    rows = json.loads(cli(store, "sparql", query, "--format", "json").stdout)["results"]["bindings"]
    return {key: value["value"] for key, value in rows[0].items()} if rows else {}


def saved_queries(store: Path, out: Path, norm: Normaliser) -> None:
    listing = json.loads(cli(store, "query", "--list", "--format", "json").stdout)
    (out / "queries").mkdir()
    samples = first_iris(store)
    for entry in listing:
        name, params = entry["name"], {p["name"]: p["type"] for p in entry.get("parameters", [])}
        variants = {"defaults": []}
        for key in ("project", "run"):
            if params.get(key) == "iri" and key in samples:
                variants[key] = ["--param", f"{key}={samples[key]}"]
        for label, extra in variants.items():
            done = cli(store, "query", name, "--format", "json", *extra)
            try:
                data = json.loads(done.stdout)
                rows = data["results"]["bindings"] if isinstance(data, dict) and "results" in data else data
                if isinstance(rows, list):
                    rows.sort(key=lambda row: json.dumps(row, sort_keys=True))
                text = json.dumps(norm.json(data), indent=1, sort_keys=True)
            except ValueError:
                text = norm.text(done.stdout)
            (out / "queries" / f"{name}.{label}.json").write_text(
                f"exit {done.returncode}\n{text}\n{norm.text(done.stderr) if done.returncode else ''}")


def exports_and_validation(store: Path, out: Path, norm: Normaliser) -> None:
    nquads = cli(store, "export", "--format", "nquads")
    (out / "export.sorted.nq").write_text(sorted_lines(norm.text(nquads.stdout)))
    turtle = cli(store, "export", "--format", "turtle").stdout
    (out / "export.ttl.nq").write_text(canonical_rdf(norm.text(turtle), "text/turtle"))
    for fmt in ("json", "turtle"):
        done = cli(store, "validate", "--format", fmt)
        body = done.stdout
        if fmt == "json":
            with contextlib.suppress(ValueError):
                body = json.dumps(norm.json(json.loads(body)), indent=1, sort_keys=True)
            (out / "validate.json").write_text(f"exit {done.returncode}\n{norm.text(body)}\n")
        else:
            (out / "validate.ttl.nq").write_text(f"exit {done.returncode}\n"
                                                 f"{canonical_rdf(norm.text(body), 'text/turtle')}")


# ----------------------------------------------------------------------------------------------- the web side


class Links(HTMLParser):
    """Same-origin candidates of a page, in document order: anchors, alternate links, GET form actions."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("href") and (tag == "a" or (tag == "link" and a.get("rel") == "alternate")):
            self.links.append(a["href"] or "")
        elif tag == "form" and (a.get("method") or "get").lower() == "get":
            self.links.append(a.get("action") or "")


def url_shape(url: str) -> tuple:
    """What a URL is an instance of: a resource path by its kind, a list or query URL by its parameter names."""
    split = urlsplit(url)
    if split.path.startswith("/id/"):
        parts = split.path.split("/")
        return ("/id", parts[2] if len(parts) > 2 else "", len(parts), Path(split.path).suffix)
    return (split.path, *sorted(parse_qs(split.query, keep_blank_values=True)))


class CrawlPolicy:
    """Which discovered URLs to visit: ``resources`` of each resource shape (a path under ``/id/``, or a URL whose
    only parameters name resources: ``iri``, ``run``, ``format``), every one-filter link (a facet) of the lists in
    ``facet_lists``, and ``per_shape`` of every other shape (lists by their combination of parameters)."""

    _RESOURCE_PARAMS = frozenset({"iri", "run", "format"})
    _PAGING = frozenset({"sort", "page", "after", "before", "format"})

    def __init__(self, per_shape: int, resources: int, facet_lists: frozenset[str], max_pages: int) -> None:
        self.per_shape, self.resources, self.facet_lists, self.max_pages = per_shape, resources, facet_lists, max_pages
        self.seen: Counter[tuple] = Counter()

    def admit(self, url: str) -> bool:
        shape = url_shape(url)
        split = urlsplit(url)
        params = set(parse_qs(split.query, keep_blank_values=True))
        if split.path.startswith("/id/") or (params and params <= self._RESOURCE_PARAMS):
            cap = self.resources
        elif split.path in self.facet_lists and len(params) == 1 and not params & self._PAGING:
            cap = 10**9
        else:
            cap = self.per_shape
        if self.seen[shape] >= cap:
            return False
        self.seen[shape] += 1
        return True


#: The demo: 80 resources of each kind (it has some 2,000), every facet, a few of each combination. The synthetic
#: catalog: 50 resources of each kind, first pages of each list, every facet of the run list.
POLICIES = {
    "demo": lambda: CrawlPolicy(per_shape=3, resources=80, max_pages=2500,
                                facet_lists=frozenset({"/runs", "/experiments", "/results", "/datasets", "/projects"})),
    "synthetic": lambda: CrawlPolicy(per_shape=2, resources=50, max_pages=1200, facet_lists=frozenset({"/runs"})),
}


def body_text(text: str, media_type: str) -> str:
    """A response body as compared: RDF canonical (see ``canonical_rdf``), anything else as it is."""
    return canonical_rdf(text, media_type) if media_type.split(";")[0].strip() in RDF_TYPES else text


def crawl(client, policy: CrawlPolicy, norm: Normaliser, out: Path) -> int:
    """Visit from ``/``; write one JSON line per URL: status, media type, body, and the page's JSON form."""
    queued, queue, visited = {"/"}, deque(["/"]), 0
    with (out / "pages.jsonl").open("w") as pages:
        while queue and visited < policy.max_pages:
            url = queue.popleft()
            visited += 1
            page = client.get(url, headers={"accept": "text/html"})
            media = page.headers.get("content-type", "")
            record: dict[str, object] = {"url": norm.text(url), "status": page.status_code, "type": media,
                                         "body": body_text(norm.text(page.text), media)}
            if media.startswith("text/html"):
                data = client.get(url, headers={"accept": "application/json"})
                record["json_status"] = data.status_code
                try:
                    record["json"] = norm.json(data.json())
                except ValueError:
                    record["json"] = body_text(norm.text(data.text), data.headers.get("content-type", ""))
                parser = Links()
                parser.feed(page.text)
                for link in parser.links:
                    target = urlsplit(urljoin(f"http://testserver{url}", link))
                    if target.scheme != "http" or target.netloc != "testserver":
                        continue
                    local = target.path + (f"?{target.query}" if target.query else "")
                    if local not in queued and policy.admit(local):
                        queued.add(local)
                        queue.append(local)
            pages.write(json.dumps(record, sort_keys=True) + "\n")
    return visited


#: /sparql questions: each asked in every format the endpoint offers for its kind.
SPARQL = {
    "select-runs": """PREFIX eg: <https://w3id.org/expgraph#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?run ?label ?status WHERE { ?run a eg:Run ; eg:status/skos:notation ?status
        OPTIONAL { ?run rdfs:label ?label } } ORDER BY ?run LIMIT 200""",
    "select-count-by-status": """PREFIX eg: <https://w3id.org/expgraph#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?status (COUNT(?run) AS ?n) WHERE { ?run a eg:Run ; eg:status/skos:notation ?status }
        GROUP BY ?status ORDER BY ?status""",
    "select-graphs": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "ask-negative": "PREFIX eg: <https://w3id.org/expgraph#> ASK { ?r a eg:NegativeResult }",
    "construct-projects": """PREFIX eg: <https://w3id.org/expgraph#>
        CONSTRUCT { ?p ?q ?o } WHERE { ?p a eg:Project ; ?q ?o }""",
}
RESULT_TYPES = ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values", "text/html")
GRAPH_TYPES = ("text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml", "text/html")


def sparql_answers(client, norm: Normaliser, out: Path) -> None:
    answers: list[dict[str, object]] = []
    asks = [(name, query, RESULT_TYPES if not name.startswith("construct") else GRAPH_TYPES)
            for name, query in SPARQL.items()] + [("service-description", None, GRAPH_TYPES)]
    for name, query, media_types in asks:
        for media in media_types:
            response = client.get("/sparql", params={"query": query} if query else None, headers={"accept": media})
            body = body_text(norm.text(response.text), response.headers.get("content-type", ""))
            answers.append({"query": name, "accept": media, "status": response.status_code,
                            "type": response.headers.get("content-type", ""), "body": body})
    (out / "sparql.jsonl").write_text("".join(json.dumps(a, sort_keys=True) + "\n" for a in answers))


def open_app(store_path: Path):
    """The measured tree's app over the on-disk store, the way ``expgraph serve`` opens it."""
    from expgraph.catalog import prepare
    from expgraph.settings import load_settings
    from expgraph.store import EmbeddedStore
    from expgraph.web.app import create_app

    store = prepare(EmbeddedStore(store_path))
    return store, create_app(store, load_settings(environ={}))


def web_outputs(store_path: Path, out: Path, norm: Normaliser, policy: CrawlPolicy) -> int:
    from fastapi.testclient import TestClient

    store, app = open_app(store_path)
    try:
        with TestClient(app) as client:
            sparql_answers(client, norm, out)
            return crawl(client, policy, norm, out)
    finally:
        store.close()


# ------------------------------------------------------------------------------------------------- the dump


def _commit(where: Path) -> str:
    """The measured tree's commit, ``+dirty`` when it has uncommitted changes; empty outside a git checkout."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(where.parent), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return commit + ("+dirty" if commit and git("status", "--porcelain", "--", "src") else "")


@contextlib.contextmanager
def locked(work: Path) -> Iterator[None]:
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def dump(target: Path, work: Path, runs: int, catalogs: tuple[str, ...]) -> None:
    import expgraph

    with contextlib.suppress(OSError):
        os.nice(10)
    started = datetime.now(UTC)
    norm = Normaliser(started)
    target.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {"started": started.isoformat(), "work": str(work.resolve()), "runs": runs,
                                   "expgraph": expgraph.__file__, "commit": _commit(Path(expgraph.__file__)),
                                   "python": sys.version.split()[0], "catalogs": {}}
    with locked(work):
        for name in catalogs:
            started = time.monotonic()
            out = target / name
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            store = work / name / "store"
            shutil.rmtree(work / name, ignore_errors=True)
            store.parent.mkdir(parents=True)
            built = build_demo(store) if name == "demo" else build_synthetic(store, runs)
            saved_queries(store, out, norm)
            exports_and_validation(store, out, norm)
            pages = web_outputs(store, out, norm, POLICIES[name]())
            (out / "build.txt").write_text(built)
            manifest["catalogs"][name] = {"pages": pages, "seconds": round(time.monotonic() - started)}  # type: ignore[index]
            print(f"{name}: {pages} pages, {time.monotonic() - started:.0f} s", file=sys.stderr)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def renormalise(target: Path, started: datetime | None = None) -> None:
    """Apply the normalisation again to a dump (after its rules were extended): every text file, then the sorted
    N-Quads re-sorted and RDF bodies made canonical; ``started`` defaults to the manifest's."""
    manifest = json.loads((target / "manifest.json").read_text())
    started = started or datetime.fromisoformat(manifest["started"])
    norm = Normaliser(started)
    for path in sorted(target.rglob("*")):
        if not path.is_file() or path.name == "manifest.json":
            continue
        text = _OLD_MARK.sub(_CANONICAL, norm.text(path.read_text()))
        if path.name.endswith(".sorted.nq"):
            text = sorted_lines(text)
        elif path.name in ("export.ttl", "validate.turtle"):  # dumps written before Turtle was made canonical
            first, _, rest = text.partition("\n") if path.name == "validate.turtle" else ("", "", text)
            path.unlink()
            path = path.with_name("export.ttl.nq" if path.name == "export.ttl" else "validate.ttl.nq")
            text = (f"{first}\n" if first else "") + canonical_rdf(rest, "text/turtle")
        elif path.suffix == ".jsonl":
            text = "".join(json.dumps(_canonical_record(json.loads(line)), sort_keys=True) + "\n"
                           for line in text.splitlines())
        path.write_text(text)
    manifest["started"] = started.isoformat()
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _canonical_record(record: dict[str, object]) -> dict[str, object]:
    """A page or /sparql record with its RDF bodies canonical (the JSON form of a page that answered RDF is taken
    to be Turtle, the endpoint's answer to an ``application/json`` request for its description)."""
    if isinstance(record.get("body"), str) and not str(record["body"]).startswith(_CANONICAL):
        record["body"] = body_text(str(record["body"]), str(record.get("type", "")))
    if isinstance(record.get("json"), str) and str(record["json"]).startswith("@prefix"):
        record["json"] = canonical_rdf(str(record["json"]), "text/turtle")
    return record


# ------------------------------------------------------------------------------------------------- the diff


def _records(path: Path) -> dict[str, str]:
    """A dump file as comparable units: JSON lines by their key, other files whole."""
    if path.suffix != ".jsonl":
        return {"": path.read_text()}
    units = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        key = record.get("url") or f"{record.get('query')} {record.get('accept')}"
        units[str(key)] = "\n".join(f"== {name}\n" + (value if isinstance(value, str)
                                                       else json.dumps(value, indent=1, sort_keys=True))
                                   for name, value in sorted(record.items()))
    return units


def diff(before: Path, after: Path, shown: int = 5, context: int = 2, only: tuple[str, ...] = ()) -> int:
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (before, after)]
    problems: list[str] = []
    if manifests[0]["work"] != manifests[1]["work"] or manifests[0]["runs"] != manifests[1]["runs"]:
        problems.append(f"not comparable: built with work/runs {manifests[0]['work']}/{manifests[0]['runs']} vs "
                        f"{manifests[1]['work']}/{manifests[1]['runs']}")
    files = sorted({p.relative_to(d) for d in (before, after) for p in d.rglob("*") if p.is_file()}
                   - {Path("manifest.json")})
    files = [rel for rel in files if not only or rel.parts[0] in only]
    compared, differing = 0, []
    for rel in files:
        a, b = before / rel, after / rel
        if not (a.exists() and b.exists()):
            problems.append(f"{rel}: only in {'before' if a.exists() else 'after'}")
            continue
        ua, ub = _records(a), _records(b)
        compared += len(ua)
        for key in sorted(set(ua) - set(ub)):
            differing.append((rel, key, "only before", ""))
        for key in sorted(set(ub) - set(ua)):
            differing.append((rel, key, "only after", ""))
        for key in sorted(set(ua) & set(ub)):
            if ua[key] != ub[key]:
                lines = difflib.unified_diff(ua[key].splitlines(), ub[key].splitlines(), "before", "after",
                                             n=context, lineterm="")
                differing.append((rel, key, "differs", "\n".join(list(lines)[:40])))
    by_file = Counter(str(rel) for rel, *_ in differing)
    for text in problems:
        print(text)
    for rel, count in sorted(by_file.items()):
        print(f"{rel}: {count} differing unit(s)")
    for rel, key, what, text in differing[:shown]:
        print(f"\n--- {rel} {key!s}: {what}\n{text}")
    if len(differing) > shown:
        print(f"\n... and {len(differing) - shown} more")
    print(f"\n{compared} units compared in {len(files)} files: "
          f"{'IDENTICAL' if not (differing or problems) else f'{len(differing)} differ'}")
    return 1 if differing or problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("dump", help="write the outputs of the expgraph on the path into DIR")
    d.add_argument("dir", type=Path)
    d.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the stores are built (fixed, see above)")
    d.add_argument("--runs", type=int, default=10_000, help="runs in the synthetic catalog")
    d.add_argument("--only", choices=CATALOGS, action="append", help="dump only this catalog (repeatable)")
    r = commands.add_parser("renormalise", help="apply the (extended) normalisation again to a dump")
    r.add_argument("dir", type=Path)
    r.add_argument("--started", type=datetime.fromisoformat, help="when the dump started (default: its manifest)")
    c = commands.add_parser("diff", help="compare two dumps; exit 1 when they differ")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--show", type=int, default=5, help="how many differences to print in full")
    c.add_argument("--only", choices=CATALOGS, action="append", help="compare only this catalog (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.dir, args.work, args.runs, tuple(args.only or CATALOGS))
        return 0
    if args.command == "renormalise":
        renormalise(args.dir, args.started)
        return 0
    return diff(args.before, args.after, args.show, only=tuple(args.only or ()))


if __name__ == "__main__":
    sys.exit(main())
