"""An MLflow sqlite store, read in bulk: a few queries over MLflow's own table models fetch every run, param, tag
and metric summary, and MLflow's bulk readers the dataset inputs and model outputs (``search_runs`` loads ORM
objects, and ``get_metric_history`` is one query per run and metric). The database is opened read-only
(``sqlite.opened``)."""

from __future__ import annotations

import math
from typing import Any

from expgraph.importers.mlflow import private_api
from expgraph.importers.mlflow.convert import RunData, summary
from expgraph.importers.mlflow.local import LocalReader
from expgraph.importers.series import Point, Totals

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
            for (run_id, key), (candidates, whole) in self._metrics(session).items():
                if run_id in runs:
                    runs[run_id].metrics[key] = summary(key, candidates, whole)
            ids = list(runs)
            for start in range(0, len(ids), _CHUNK):  # MLflow's own bulk readers, as search_runs uses them
                chunk = ids[start:start + _CHUNK]
                for run_id, inputs in zip(chunk, private_api.run_inputs(store, session, chunk), strict=True):
                    runs[run_id].datasets = inputs
                for run_id, model_ids in private_api.model_outputs(store, session, chunk).items():
                    runs[run_id].model_ids = model_ids
        return sorted(runs.values(), key=lambda r: (r.info.start_time or 0, r.info.run_id))

    @staticmethod
    def _metrics(session: Any) -> dict[tuple[str, str], tuple[list[Point], Totals]]:
        """Per (run, key): the rows that can be its first or last value (those at its lowest and highest step, in
        logging order, which is sqlite's ``rowid``; ``series.summarise`` chooses among them), and the totals of
        its history (NaN as minimum and maximum when there are no numbers). Summarised by the database, in one
        query with window aggregates, instead of reading every value of every history; aggregates without an
        order, as ``row_number`` windows picking exactly the first and last row were slower (docs/importers.md).
        MLflow stores NaN as ``is_nan``."""
        from sqlalchemy import case, false, func, literal_column, or_, select

        metric = private_api.table_models()[3]
        group = {"partition_by": (metric.run_uuid, metric.key)}
        number = case((metric.is_nan == false(), metric.value))  # NULL for NaN: MIN and MAX skip it
        ranked = select(metric.run_uuid, metric.key, metric.timestamp, metric.step, metric.value, metric.is_nan,
                        literal_column("metrics.rowid").label("logged"), func.count().over(**group).label("count"),
                        func.min(number).over(**group).label("minimum"),
                        func.max(number).over(**group).label("maximum"),
                        func.min(metric.step).over(**group).label("first_step"),
                        func.max(metric.step).over(**group).label("last_step")).subquery()
        query = select(ranked).where(or_(ranked.c.step == ranked.c.first_step, ranked.c.step == ranked.c.last_step)
                                     ).order_by(ranked.c.logged)
        metrics: dict[tuple[str, str], tuple[list[Point], Totals]] = {}
        for row in session.execute(query):
            point = Point(row.step, row.timestamp, math.nan if row.is_nan else row.value)
            if (row.run_uuid, row.key) in metrics:
                metrics[row.run_uuid, row.key][0].append(point)
            else:
                metrics[row.run_uuid, row.key] = ([point], Totals(
                    math.nan if row.minimum is None else row.minimum, math.nan if row.maximum is None else row.maximum,
                    row.count))
        return metrics
