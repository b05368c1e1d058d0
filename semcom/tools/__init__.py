"""Validation scripts: measured figures quoted in the documentation (docs/validation/) (too slow for the test suite).

Run each as ``python -m semcom.tools.<name> --help``.
"""
