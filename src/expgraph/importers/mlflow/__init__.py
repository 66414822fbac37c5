"""MLflow: any tracking URI (``./mlruns``, ``file:``, ``sqlite:///``, ``http://``), opened with ``MlflowClient``.

One reader per kind of store, each giving the same :class:`convert.RunData` per run, from which ``convert`` makes
the records: ``client`` (a tracking server: the public client only), ``file_store`` and ``sql_store`` (local stores,
read in bulk: the client's per-run calls made an import several times slower than ``search_runs`` alone, see
docs/importers.md), with what the local two share in ``local``. Every call into MLflow's private API is in
``private_api``; ``sqlite`` opens a sqlite store strictly read-only. ``importer`` picks the reader.
"""

from expgraph.importers.mlflow.importer import MlflowImporter

__all__ = ["MlflowImporter"]
