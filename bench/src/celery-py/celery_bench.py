"""The Celery app of the bench's Python Celery row, loaded by its worker (`celery -A celery_bench
worker ...`) and by its driver (celery_driver.py). Configured by the environment:

  CELERY_BENCH_URL    redis://host:port/db, broker and result backend alike
  CELERY_BENCH_QUEUE  the queue the scenario's tasks go to (unique per scenario)

Tasks: `bench.noop` (no arguments, returns nothing) and `bench.noop_body` (the chord scenario's
body: takes the header's results, returns nothing).

Everything else is Celery 5.2's default: results stored in Redis (ignore_result False, kept a
day), JSON, acks early, prefetch multiplier 4. The only additions are a counter of the tasks this
worker ran successfully and a remote-control command that reads it, so the row reports the same
"tasks the worker ran" count as the others.
"""
import os
import threading

from celery import Celery
from celery.signals import task_success
from celery.worker.control import inspect_command

URL = os.environ["CELERY_BENCH_URL"]
QUEUE = os.environ["CELERY_BENCH_QUEUE"]

app = Celery("celery_bench", broker=URL, backend=URL)
app.conf.update(task_default_queue=QUEUE, task_ignore_result=False)


@app.task(name="bench.noop")
def noop():
    pass


@app.task(name="bench.noop_body")
def noop_body(results):
    """The chord scenario's body: receives the header's results, does nothing with them."""


_succeeded = 0
_lock = threading.Lock()  # the threads pool runs tasks, and so sends this signal, on many threads


@task_success.connect
def _count_success(**_kwargs):
    global _succeeded
    with _lock:
        _succeeded += 1


@inspect_command()
def bench_succeeded(state):
    """Tasks this worker ran successfully since it started."""
    return {"succeeded": _succeeded}
