"""Parsers for the six data sets in their official layouts.

Each returns typed tables plus a table of skipped records (file, reason), so nothing is dropped silently.
"""
