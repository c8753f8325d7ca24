"""Brute-force protection: failed logins (django-axes) and API request rates (DRF throttles); who reads the API docs.

Every figure comes from the environment, so an operator tunes it without a code change.
"""

from __future__ import annotations

from datetime import timedelta

from config.env import env_bool, env_int, env_str

# Throttle counters live in the cache. The default cache is per process, so each gunicorn worker would count on its
# own: point PREFSTACK_CACHE_URL at Redis (redis://host:6379/1) wherever several processes serve requests.
_cache_url = env_str("PREFSTACK_CACHE_URL", "")
CACHES: dict[str, dict[str, object]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "prefstack"}
    )
}

# --- Logins (django-axes) ----------------------------------------------------------------------------------------
# After PREFSTACK_LOGIN_FAILURE_LIMIT failed logins a username is locked out (from any address) and so is an
# address (for any username), for PREFSTACK_LOGIN_COOLOFF_MINUTES; the right password is refused meanwhile with a
# page that says so (HTTP 429). The login page and /admin/ both go through authenticate(), so both are covered.
# PREFSTACK_LOGIN_LOCKOUT_PARAMETERS: comma-separated; "username+ip_address" locks the pair only.
AXES_ENABLED = env_bool("PREFSTACK_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = env_int("PREFSTACK_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PREFSTACK_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS: list[str | list[str]] = [
    part.split("+") if "+" in part else part
    for part in (p.strip() for p in env_str("PREFSTACK_LOGIN_LOCKOUT_PARAMETERS", "username,ip_address").split(","))
    if part
]
AXES_RESET_ON_SUCCESS = True  # a successful login clears that user's earlier failures
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_COOLOFF_MESSAGE = "Too many failed logins: this account or address is locked for a while. Try again later."
# The address is REMOTE_ADDR (a client cannot forge it); behind a proxy that is the proxy's, so there lock by
# username only (PREFSTACK_LOGIN_LOCKOUT_PARAMETERS=username).

# --- API (DRF throttles; annotator.api.throttling) ------------------------------------------------------------------
# Requests per period ("<n>/second|minute|hour|day") for anonymous clients (by address) and for each user; an
# empty value turns that throttle off. Read at each request.
PREFSTACK_API_THROTTLE_RATES: dict[str, str | None] = {
    "anon": env_str("PREFSTACK_API_THROTTLE_ANON", "60/minute") or None,
    "user": env_str("PREFSTACK_API_THROTTLE_USER", "1200/minute") or None,
}

# --- API docs ---------------------------------------------------------------------------------------------------
# /api/schema/ and /api/docs/: readable by anyone (true), or only by a signed-in user or a token holder (false).
PREFSTACK_API_DOCS_PUBLIC = env_bool("PREFSTACK_API_DOCS_PUBLIC", True)
