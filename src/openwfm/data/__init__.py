"""Interaction logs: read (``readers``), store (``store``, DuckDB), aggregate (``intervals``).

The modules are imported on demand (``from openwfm.data.readers import read_interactions``) so
that importing the package stays cheap.
"""
