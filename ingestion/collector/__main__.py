"""`python -m ingestion.collector [--host H] [--port P]`, the same as `journey collect`."""

import argparse

from ingestion.collector.app import serve
from ingestion.settings.collector import DEFAULT_HOST, DEFAULT_PORT

parser = argparse.ArgumentParser(prog="journey collect")
parser.add_argument("--host", default=DEFAULT_HOST)
parser.add_argument("--port", type=int, default=DEFAULT_PORT)
args = parser.parse_args()
serve(args.host, args.port)
