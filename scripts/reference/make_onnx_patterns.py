#!/usr/bin/env python3
"""The fixtures of test/models/onnx-patterns.test.ts: the custom classifiers of onnx_patterns.py
through make_onnx_families.py's three steps (export, strip, reference; its docstring), written
to test/fixtures/onnx-patterns/ from exports in /tmp/pss-onnx-patterns (PSS_ONNX_OUT overrides).

    /usr/bin/python3 scripts/reference/make_onnx_patterns.py [STEP] [PATTERN ...]
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_onnx_families import ROOT, Suite, main  # noqa: E402
from onnx_patterns import PATTERNS  # noqa: E402

SUITE = Suite(PATTERNS, os.path.join(ROOT, "test", "fixtures", "onnx-patterns"),
              os.environ.get("PSS_ONNX_OUT", "/tmp/pss-onnx-patterns"))

if __name__ == "__main__":
    main(SUITE, sys.argv[1:])
