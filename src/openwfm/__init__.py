"""openwfm: workforce management and routing for omnichannel contact centers.

Stages (one package each, plain functions over DataFrames): ``data`` (ingest, store, KPIs),
``forecast``, ``queueing`` and ``staffing``, ``schedule``, ``sim``, ``routing``, ``report``.
"""

__version__ = "0.1.0"
