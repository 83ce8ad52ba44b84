"""The end-to-end scenario of the bench's Python Celery row on RabbitMQ, against a worker the
bench started: prints one JSON object `{tasks, ms, verified}` on stdout.

  celery_amqp_driver.py e2e --tasks N

One untimed round trip first (the worker is up and consuming, the reply queue declared); then the
clock runs from the first `apply_async()` (Celery has no bulk send; each publish waits for its
confirm; the replies that came meanwhile are read every 100 sends) until every result has arrived
on the reply queue (`AsyncResult.get()` in send order).
"""
import argparse
import json
import socket
import time

from celery_amqp_bench import noop


# Results arrive on the reply queue while the sends go on. Read now and then (as a client that
# awaits its results would), or RabbitMQ's writer fills the unread socket and, blocked past its
# send timeout (seen on a slow machine: {writer,send_failed,{error,timeout}}), drops the
# connection. Each result is registered as pending as it is sent, so a reply read here lands in
# its AsyncResult (an unregistered one goes to a buffer, and get() then waits up to its interval,
# half a second, for a message that already came: 3,000 tasks took minutes that way).
DRAIN_EVERY = 100


def drain(consumer):
    """Handles the reply messages already here; returns as soon as none comes within 1 ms."""
    while True:
        try:
            consumer.drain_events(timeout=0.001)
        except socket.timeout:
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["e2e"])
    parser.add_argument("--tasks", type=int, required=True)
    args = parser.parse_args()
    noop.delay().get(timeout=120)
    backend = noop.app.backend
    start = time.perf_counter()
    results = []
    for i in range(args.tasks):
        result = noop.apply_async()
        backend.add_pending_result(result)
        results.append(result)
        if i % DRAIN_EVERY == DRAIN_EVERY - 1:
            drain(backend.result_consumer)
    verified = 0
    for r in results:
        r.get(timeout=600)
        verified += r.successful()
    ms = (time.perf_counter() - start) * 1000
    print(json.dumps({"tasks": args.tasks, "ms": ms, "verified": verified}))


if __name__ == "__main__":
    main()
