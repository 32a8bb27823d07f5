"""Pure domain layer of the CRM (no I/O besides reading the packaged data files).

Modules: ``vocabulary`` (the CRM's own identifiers), ``errors`` (its domain errors, on
``backbone.errors``), ``scope`` (what the access policy hands the use cases), ``uscc``, ``tiering``,
``products``, ``lifecycle``, ``history``, ``contacts``, ``key_persons``.
"""
