"""market_daily: one trading day through the pipeline, after the US close.

Runs at 17:30 America/New_York on weekdays. The trading day is the UTC date of the run's logical
date (17:30 in New York is the same date in UTC), so `airflow dags test market_daily 2020-01-02`
and a scheduled run on that evening both mean 2 January 2020, and a backfill stores each day of
its range once: every run is bounded to its day.

  1. ingest  POST /run?from=<day>&until=<day+1> on the ingest worker (`--serve`): only that
             day's records go to Kafka. The source (CSV or Alpha Vantage) and its API key belong
             to the worker (env or *_FILE secret); neither Airflow nor this file ever holds it.
  2. caught_up  waits until the transform worker's GET /lag is 0: every tick turned into bars.
  3. sink    POST /run on the sink worker (`--serve`): drains the bars into PostgreSQL and
             Elasticsearch, answers the totals (5xx when a store is down: the task retries).
  4. check   asks the API for the day's daily bars of every symbol and fails the run when fewer
             are stored than ingest wrote records for that day.

Workers are reached through Airflow connections (AIRFLOW_CONN_MARKET_INGEST, _TRANSFORM, _SINK,
_API, e.g. http://ingest:9101). Written for Airflow 2.x: runs on 2.5.1 (the seed's image) and on
the current 2.x release.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.exceptions import AirflowException
from airflow.hooks.base import BaseHook
from airflow.operators.python import PythonOperator
from airflow.sensors.python import PythonSensor
from airflow.timetables.trigger import CronTriggerTimetable

# Retry pacing: the first delay doubles on each retry (a store coming back after a restart).
RETRY_DELAY = timedelta(seconds=int(os.environ.get("MARKET_RETRY_DELAY_SECONDS", "60")))


def worker_url(conn_id: str, path: str, query: dict[str, str] | None = None) -> str:
    conn = BaseHook.get_connection(conn_id)
    scheme = conn.schema or "http"
    url = f"{scheme}://{conn.host}:{conn.port}{path}"
    return f"{url}?{urllib.parse.urlencode(query)}" if query else url


def call(url: str, method: str = "GET", timeout: float = 60) -> dict:
    """The JSON answer; a non-2xx answer fails the task with the problem's detail."""
    request = urllib.request.Request(url, method=method, headers={"accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        try:
            detail = json.loads(body).get("detail", body)
        except ValueError:
            detail = body
        raise AirflowException(f"{method} {url} → {error.code}: {detail}") from None
    except urllib.error.URLError as error:
        raise AirflowException(f"{method} {url}: {error.reason}") from None


def trading_day(context) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    day = context["logical_date"].in_timezone("UTC").start_of("day")
    return day, day.add(days=1)


def ingest_day(**context) -> dict:
    start, end = trading_day(context)
    totals = call(
        worker_url(
            "market_ingest", "/run", {"from": start.to_iso8601_string(), "until": end.to_iso8601_string()}
        ),
        method="POST",
        timeout=1800,
    )
    print(f"ingest {start.date()}: {json.dumps(totals)}")
    return {"day": start.to_date_string(), "records": sum(totals["recordsOut"].values())}


def transform_caught_up() -> bool:
    lag = call(worker_url("market_transform", "/lag"))
    print(f"transform lag: {lag['lag']} records")
    return lag["lag"] == 0


def sink_run() -> dict:
    totals = call(worker_url("market_sink", "/run"), method="POST", timeout=1800)
    print(f"sink: {json.dumps(totals)}")
    return totals


def check_day(**context) -> int:
    ingested = context["ti"].xcom_pull(task_ids="ingest")
    start, end = trading_day(context)
    last = end.subtract(microseconds=1000)
    stored = 0
    for entry in call(worker_url("market_api", "/symbols"))["data"]:
        page = call(
            worker_url(
                "market_api",
                "/bars",
                {
                    "symbol": entry["symbol"],
                    "interval": "1d",
                    "from": start.to_iso8601_string(),
                    "to": last.to_iso8601_string(),
                },
            )
        )
        stored += len(page["data"])
    print(f"{start.date()}: {ingested['records']} records ingested, {stored} daily bars stored")
    if stored < ingested["records"]:
        raise AirflowException(
            f"{start.date()}: {ingested['records']} records ingested but {stored} daily bars stored"
        )
    return stored


with DAG(
    dag_id="market_daily",
    description="one trading day: ingest → transform caught up → sink → check",
    schedule=CronTriggerTimetable("30 17 * * 1-5", timezone="America/New_York"),
    start_date=pendulum.datetime(2000, 1, 3, tz="America/New_York"),
    # Past days run only when asked (`airflow dags backfill`): each run is bounded to its day.
    catchup=False,
    # The workers run one /run at a time (409 otherwise): one day at a time.
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
    },
    tags=["market"],
    doc_md=__doc__,
) as dag:
    ingest = PythonOperator(
        task_id="ingest", python_callable=ingest_day, execution_timeout=timedelta(minutes=30)
    )
    caught_up = PythonSensor(
        task_id="caught_up",
        python_callable=transform_caught_up,
        poke_interval=5,
        timeout=3600,
        mode="poke",
    )
    sink = PythonOperator(
        task_id="sink", python_callable=sink_run, execution_timeout=timedelta(minutes=30)
    )
    check = PythonOperator(
        task_id="check", python_callable=check_day, execution_timeout=timedelta(minutes=5)
    )
    ingest >> caught_up >> sink >> check
