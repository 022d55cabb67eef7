"""
The HTTP core: every request to a tenant goes through :class:`~.core.RequestCore`.

Holds the rules of one request without I/O (``rules.py``: retries, ``Retry-After``, re-login, which host
may see the token), the transport (``transport.py``: a keep-alive urllib3 pool; ``deadline.py``: a
deadline per answer), the token (``auth.py``), secrets cut out of echoed bodies (``redact.py``) and what
the transport hands the rules (``answer.py``).

May use: the connection (``hooks/config.py``), errors, compat. Never paging or the probe: a decoded
answer that reads the answer's headers says so itself (:class:`~.answer.ReadsHeaders`).
"""

from __future__ import annotations
