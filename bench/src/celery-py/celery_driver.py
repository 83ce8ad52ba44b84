"""Runs one scenario of the bench's Python Celery row against a worker the bench has started
(see celery-contestant.ts) and prints its figures as one JSON object on stdout:

  celery_driver.py bulk    --node NODE --tasks N    {tasks, enqueueMs, queued, processMs, verified, workerSucceeded}
  celery_driver.py e2e     --node NODE --tasks N    {tasks, ms, verified, workerSucceeded}
  celery_driver.py latency --node NODE --runs N --warmup W --settle S   {newSamplesMs, samplesMs, workerSucceeded}
  celery_driver.py chord   --node NODE --tasks N    {tasks, ms, appliedMs, bodyStoredMs, bodyReady, headerVerified, workerSucceeded}

The worker starts consuming an idle queue only; the scenario's queue is added with the
`add_consumer` remote-control command when the clock starts (bulk) or before it (the others), so
loading Python and connecting stay outside the timed section, as for the Node rows.
Sends are Celery's own: one `apply_async()` per task (Celery has no bulk send). "Done" is every
task's `celery-task-meta-<id>` key in Redis saying SUCCESS, read with MGET a window at a time.

The chord scenario, after one untimed round trip (so the result consumer is subscribed, as on
the celeriac side): `chord([noop.s() for _ in range(N)], noop_body.s())` is built, then the clock
runs from `apply_async()` (Celery's chord: the size recorded, then one publish per header task)
until the body's `AsyncResult.get()` returns. Also timed: until `apply_async()` returned, and
until the body's result key says SUCCESS (a second thread reads it every 5 ms from then on: the
worker side, whatever the client's wait costs). Counted afterwards: the header results that say
SUCCESS and whether the body's does.
"""
import argparse
import json
import sys
import threading
import time

import redis

from celery import chord

from celery_bench import QUEUE, URL, app, noop, noop_body

WINDOW = 512
POLL_S = 0.005


def wait_ready(node, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while not app.control.ping(destination=[node], timeout=0.5):
        if time.monotonic() > deadline:
            sys.exit(f"celery_driver: worker {node} did not answer a ping within {timeout_s} s")


def start_consuming(node):
    replies = app.control.add_consumer(QUEUE, destination=[node], reply=True, timeout=10)
    if not any(node in r and "ok" in r[node] for r in replies):
        sys.exit(f"celery_driver: add_consumer({QUEUE}) on {node} answered {replies!r}")


def worker_succeeded(node):
    replies = app.control.broadcast("bench_succeeded", destination=[node], reply=True, timeout=10)
    return next((r[node]["succeeded"] for r in replies if node in r), -1)


def send_all(n):
    return [noop.apply_async().id for _ in range(n)]


def meta_key(task_id):
    return f"celery-task-meta-{task_id}"


def wait_all(client, ids, timeout_s=600):
    """Until every id's result says SUCCESS: the ids not done yet plus the next ones, in send order."""
    deadline = time.monotonic() + timeout_s
    carry, cursor = [], 0
    while carry or cursor < len(ids):
        take = max(0, WINDOW - len(carry))
        look = carry + ids[cursor:cursor + take]
        cursor = min(len(ids), cursor + take)
        carry = []
        for task_id, value in zip(look, client.mget([meta_key(i) for i in look])):
            if value is not None and b'"SUCCESS"' in value:
                continue
            if value is not None and b'"FAILURE"' in value:
                sys.exit(f"celery_driver: task {task_id} failed: {value!r}")
            carry.append(task_id)
        if time.monotonic() > deadline:
            sys.exit(f"celery_driver: gave up, {len(carry) + len(ids) - cursor} of {len(ids)} results not stored")
        if carry:
            time.sleep(POLL_S)


def watch_stored(client, task_id, start):
    """A thread that reads `task_id`'s result key every 5 ms; its `ms` is set when it says SUCCESS."""
    stored = {"ms": None}

    def poll():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            value = client.get(meta_key(task_id))
            if value is not None and b'"SUCCESS"' in value:
                stored["ms"] = ms_since(start)
                return
            time.sleep(POLL_S)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread, stored


def count_success(client, ids):
    succeeded = 0
    for i in range(0, len(ids), 1000):
        for value in client.mget([meta_key(t) for t in ids[i:i + 1000]]):
            if value is not None and json.loads(value).get("status") == "SUCCESS":
                succeeded += 1
    return succeeded


def ms_since(start):
    return (time.perf_counter() - start) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["bulk", "e2e", "latency", "chord"])
    parser.add_argument("--node", required=True)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--settle", type=int, default=0)
    args = parser.parse_args()
    client = redis.Redis.from_url(URL)
    wait_ready(args.node)

    if args.scenario == "bulk":
        start = time.perf_counter()
        ids = send_all(args.tasks)
        enqueue_ms = ms_since(start)
        queued = client.llen(QUEUE)
        start = time.perf_counter()
        start_consuming(args.node)
        wait_all(client, ids)
        process_ms = ms_since(start)
        out = {"tasks": len(ids), "enqueueMs": enqueue_ms, "queued": queued, "processMs": process_ms,
               "verified": count_success(client, ids), "workerSucceeded": worker_succeeded(args.node)}
    elif args.scenario == "e2e":
        start_consuming(args.node)
        start = time.perf_counter()
        ids = send_all(args.tasks)
        wait_all(client, ids)
        ms = ms_since(start)
        out = {"tasks": len(ids), "ms": ms, "verified": count_success(client, ids),
               "workerSucceeded": worker_succeeded(args.node)}
    elif args.scenario == "chord":
        start_consuming(args.node)
        noop.delay().get(timeout=30)
        workflow = chord([noop.s() for _ in range(args.tasks)], noop_body.s())
        client.ping()  # the watcher's connection is up before the clock starts
        start = time.perf_counter()
        body = workflow.apply_async()
        applied_ms = ms_since(start)
        poller, stored = watch_stored(client, body.id, start)
        body.get(timeout=600)
        ms = ms_since(start)
        poller.join()
        header_ids = [r.id for r in body.parent.results]
        out = {"tasks": len(header_ids), "ms": ms, "appliedMs": applied_ms, "bodyStoredMs": stored["ms"], "bodyReady": int(body.successful()),
               "headerVerified": count_success(client, header_ids), "workerSucceeded": worker_succeeded(args.node)}
    else:
        start_consuming(args.node)

        def untimed(n):
            for _ in range(n):
                noop.delay().get(timeout=30)

        def timed():
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                noop.delay().get(timeout=30)
                samples.append(ms_since(start))
            return samples

        untimed(args.warmup)
        new_samples = timed()
        untimed(args.settle)
        out = {"newSamplesMs": new_samples, "samplesMs": timed(), "workerSucceeded": worker_succeeded(args.node)}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
