"""The Celery app of the bench's Python Celery row on RabbitMQ (celery-amqp.ts), loaded by its
worker (`celery -A celery_amqp_bench worker -P prefork ...`) and by celery_amqp_driver.py.
Configured by the environment:

  CELERY_AMQP_URL     amqp://user:password@host:port/vhost (the row's own vhost)
  CELERY_BENCH_QUEUE  the queue the tasks go to

Results go to the rpc:// backend (a reply message to the sender, Celery's AMQP result backend);
publisher confirms are on (`confirm_publish`, off by default in kombu), so every row publishes
the same way. Everything else is Celery 5.2's default: persistent messages, JSON, acks early,
prefetch multiplier 4.
"""
import os

from celery import Celery

URL = os.environ["CELERY_AMQP_URL"]
QUEUE = os.environ["CELERY_BENCH_QUEUE"]

app = Celery("celery_amqp_bench", broker=URL, backend="rpc://")
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=False,
    broker_transport_options={"confirm_publish": True},
)


@app.task(name="bench.noop")
def noop():
    pass
