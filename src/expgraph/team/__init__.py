"""The team server: one ``expgraph serve`` owns the store; clients read through ``/sparql`` and write through an
authenticated API (``/api/v1``), every write recorded in a hash-chained PROV audit trail.

``tokens`` (who may do what), ``discovery`` (how a CLI finds the server holding its store), ``audit`` (the trail
and its verification), ``uploads`` (the request gate: tokens on every route, uploads spooled to a file), ``api``
(the routes). The CLI side is ``expgraph.store.served``.
"""
