"""Puts models/train (the reference under test) and this folder (numpy_ops, the independent
re-derivation) on sys.path, so tests import them as the scripts themselves do."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
