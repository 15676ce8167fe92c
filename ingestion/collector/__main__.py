"""`python -m ingestion.collector [--host H] [--port P]`, the same as `journey collect`."""

import argparse

from ingestion.collector.app import serve
from ingestion.settings.collector import DEFAULT_HOST, DEFAULT_PORT

parser = argparse.ArgumentParser(prog="journey collect")
parser.add_argument("--host", default=DEFAULT_HOST)
parser.add_argument("--port", type=int, default=DEFAULT_PORT)
args = parser.parse_args()
try:
    serve(args.host, args.port)
except ValueError as exc:  # a setting that cannot be used: its message names the variable
    parser.exit(2, f"journey collect: {exc}\n")
