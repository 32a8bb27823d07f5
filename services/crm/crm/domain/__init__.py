"""Pure domain layer of the CRM (no I/O besides reading the packaged data files).

Modules: ``vocabulary`` (shared identifiers), ``uscc``, ``tiering``, ``products``,
``lifecycle``, ``masking``, ``key_persons``.
"""
