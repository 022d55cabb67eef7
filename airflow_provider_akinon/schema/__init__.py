"""Typed schemas of exported lists: pages of JSON read as Arrow tables, how types meet, the user's contract.

- :mod:`~airflow_provider_akinon.schema.meet`: how two Arrow types of one field meet (no I/O).
- :mod:`~airflow_provider_akinon.schema.page`: a page of records as a typed Arrow table.
- :mod:`~airflow_provider_akinon.schema.contract`: what a new field or a changed type does (``schema_contract=``).
- :mod:`~airflow_provider_akinon.schema.evolving`: one export's schema, shared by its writers.
"""
