"""Great Expectations, imported once and without pyspark (see `import_gx`)."""

from __future__ import annotations

import importlib
import sys
import threading

_GX_IMPORT = threading.Lock()


def import_gx():
    """Great Expectations, imported without pyspark. GX imports pyspark whenever it is
    installed (the `spark` extra): a second more, pandas warnings, and under `python -c`
    pyspark's doctest guard exits the process. The checks validate pandas frames only, so
    GX is shown pyspark as absent while it loads, unless something imported pyspark first;
    later imports of pyspark in the process work as usual."""
    with _GX_IMPORT:
        hidden = "pyspark" not in sys.modules
        if hidden:
            sys.modules["pyspark"] = None  # an import of it raises ImportError
        try:
            return importlib.import_module("great_expectations")
        finally:
            if hidden:
                del sys.modules["pyspark"]
