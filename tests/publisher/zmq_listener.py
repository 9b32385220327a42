"""Wait for one job to finish by listening to a LAVA server's ZMQ events, as LAVA's docs do.

Written for lavad's tests after the approach of LAVA's documented client
(``doc/v2/examples/source/zmq_client.py``): ask XML-RPC
``scheduler.get_publisher_event_socket``, keep only the
port, connect a SUB socket to ``tcp://<hostname>:<port>``, subscribe to
everything, unpack five frames, load the data with a YAML loader and stop at
the job's testjob event whose state is Finished.

Prints ``connected <url>`` once connected, ``receiving`` at the first message
(so a test knows its subscription is live), then the matching message as one
JSON line ``[topic, uuid, datetime, username, data]`` and exits 0.  Exits 2 on
timeout, 1 on a malformed message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xmlrpc.client
from urllib.parse import urlsplit

import yaml
import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-id", type=int, required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--rpc-url", required=True,
                        help="the server's XML-RPC URL (http://host:port/RPC2)")
    parser.add_argument("--timeout", type=float, default=30.0)
    options = parser.parse_args()

    address = xmlrpc.client.ServerProxy(options.rpc_url).scheduler.get_publisher_event_socket()
    port = urlsplit(address).port
    url = "tcp://%s:%d" % (options.hostname, port)
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(url)
    print("connected", url, flush=True)

    deadline = time.monotonic() + options.timeout
    receiving = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000)):
                print("timeout", file=sys.stderr, flush=True)
                return 2
            parts = sock.recv_multipart()
            if len(parts) != 5:
                print("invalid message: %d frames" % len(parts), file=sys.stderr, flush=True)
                return 1
            topic, uuid, when, username, payload = (p.decode("utf-8") for p in parts)
            if not receiving:
                receiving = True
                print("receiving", flush=True)
            data = yaml.safe_load(payload)
            if topic.endswith(".testjob") and data.get("job") == options.job_id \
                    and data.get("state") == "Finished":
                print(json.dumps([topic, uuid, when, username, data]), flush=True)
                return 0
    finally:
        sock.close()
        context.term()


if __name__ == "__main__":
    sys.exit(main())
