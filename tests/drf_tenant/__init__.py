"""A tenant built from Django REST Framework's stock parts, as Akinon's APIs are: for the tests only.

DRF's and django-filter's code decides how it pages, sorts and filters; ours only declares the models
(shaped like Akinon's seed pages), the views and the switches DRF itself offers (``settings.py``).
``serve.py`` runs it on loopback with a writer thread that inserts and updates orders, as a busy shop
does; ``tenant.py`` starts it from the tests and reads the ground truth from its database.
"""
