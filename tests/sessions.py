"""The command tests run a pytest session with, as a subprocess of their own. Every pytest process loads each
installed plugin: labgrid's imports take 1.7 s and hypothesis's 0.7 s (at the terminal summary), so a one-test
session in a temporary project took 2.0 s instead of 0.4 s. The sessions tests start use neither (the harness is its
own labgrid client and then defines --lg-coordinator itself; pyproject.toml's addopts block labgrid's plugin too)."""

import sys

PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:labgrid", "-p", "no:hypothesispytest")
