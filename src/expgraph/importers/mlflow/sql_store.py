"""An MLflow sqlite store, read in bulk: a few queries over MLflow's own table models fetch every run, param, tag
and metric value, and MLflow's bulk readers the dataset inputs and model outputs (``search_runs`` loads ORM
objects, and ``get_metric_history`` is one query per run and metric). The database is opened read-only
(``sqlite.opened``)."""

from __future__ import annotations

import math
from typing import Any

from expgraph.importers.mlflow import private_api
from expgraph.importers.mlflow.convert import RunData
from expgraph.importers.mlflow.local import LocalReader
from expgraph.importers.series import Point

_CHUNK = 500  # run ids per IN (...) of MLflow's bulk readers: sqlite caps the variables of one statement


class SqlStoreReader(LocalReader):
    """A sqlite store through the tables MLflow itself reads."""

    def runs(self, client: Any, experiments: list[Any]) -> list[Any]:
        store = private_api.tracking_store(client)
        if not private_api.sql_store(store):  # an MLflow without these private readers
            return super().runs(client, experiments)
        from mlflow.entities import RunInfo
        from sqlalchemy import select

        sql_run, sql_param, sql_tag, _ = private_api.table_models()
        runs: dict[str, RunData] = {}
        with private_api.session(store) as session:
            query = select(sql_run.run_uuid, sql_run.name, sql_run.experiment_id, sql_run.user_id, sql_run.status,
                           sql_run.start_time, sql_run.end_time, sql_run.lifecycle_stage, sql_run.artifact_uri)
            wanted = {str(e.experiment_id) for e in experiments}
            for row in session.execute(query):
                if str(row.experiment_id) in wanted:
                    info = RunInfo(run_id=row.run_uuid, run_name=row.name, experiment_id=str(row.experiment_id),
                                   user_id=row.user_id, status=row.status, start_time=row.start_time,
                                   end_time=row.end_time, lifecycle_stage=row.lifecycle_stage,
                                   artifact_uri=row.artifact_uri)
                    runs[row.run_uuid] = RunData(info, {}, {}, {})
            for run_id, key, value in session.execute(select(sql_param.run_uuid, sql_param.key, sql_param.value)):
                if run_id in runs:
                    runs[run_id].params[key] = value
            for run_id, key, value in session.execute(select(sql_tag.run_uuid, sql_tag.key, sql_tag.value)):
                if run_id in runs:
                    runs[run_id].tags[key] = value
            for (run_id, key), points in self._metrics(session).items():
                if run_id in runs:
                    runs[run_id].metrics[key] = points
            ids = list(runs)
            for start in range(0, len(ids), _CHUNK):  # MLflow's own bulk readers, as search_runs uses them
                chunk = ids[start:start + _CHUNK]
                for run_id, inputs in zip(chunk, private_api.run_inputs(store, session, chunk), strict=True):
                    runs[run_id].datasets = inputs
                for run_id, model_ids in private_api.model_outputs(store, session, chunk).items():
                    runs[run_id].model_ids = model_ids
        return sorted(runs.values(), key=lambda r: (r.info.start_time or 0, r.info.run_id))

    @staticmethod
    def _metrics(session: Any) -> dict[tuple[str, str], list[Point]]:
        """Per (run, key): every value logged, in logging order (sqlite's ``rowid``), for the summary and the
        history the charts draw. MLflow stores NaN as ``is_nan``. (Before metric histories were kept, the database
        summarised each history and handed over only the rows that could be first or last.)"""
        from sqlalchemy import literal_column, select

        metric = private_api.table_models()[3]
        query = select(metric.run_uuid, metric.key, metric.timestamp, metric.step, metric.value, metric.is_nan
                       ).order_by(literal_column("metrics.rowid"))
        metrics: dict[tuple[str, str], list[Point]] = {}
        for run_id, key, timestamp, step, value, is_nan in session.execute(query):
            point = Point(step, timestamp, math.nan if is_nan else value)
            found = metrics.get((run_id, key))
            if found is None:
                metrics[run_id, key] = [point]
            else:
                found.append(point)
        return metrics
