"""The end-to-end scenario of the bench's Python Celery row on RabbitMQ, against a worker the
bench started: prints one JSON object `{tasks, ms, verified}` on stdout.

  celery_amqp_driver.py e2e --tasks N

One untimed round trip first (the worker is up and consuming, the reply queue declared); then the
clock runs from the first `apply_async()` (Celery has no bulk send; each publish waits for its
confirm) until every result has arrived on the reply queue (`AsyncResult.get()` in send order).
"""
import argparse
import json
import time

from celery_amqp_bench import noop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["e2e"])
    parser.add_argument("--tasks", type=int, required=True)
    args = parser.parse_args()
    noop.delay().get(timeout=120)
    start = time.perf_counter()
    results = [noop.apply_async() for _ in range(args.tasks)]
    verified = 0
    for r in results:
        r.get(timeout=600)
        verified += r.successful()
    ms = (time.perf_counter() - start) * 1000
    print(json.dumps({"tasks": args.tasks, "ms": ms, "verified": verified}))


if __name__ == "__main__":
    main()
