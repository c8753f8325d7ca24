"""Production: PostgreSQL and Redis from the environment; refuses to start unsafely.

HTTPS is assumed: HTTP is redirected to HTTPS and browsers are told to insist on it (HSTS), so that
``manage.py check --deploy`` is clean with the defaults. Behind a TLS-terminating proxy set
DJANGO_SECURE_PROXY_SSL_HEADER (e.g. ``HTTP_X_FORWARDED_PROTO,https``; only if the proxy always sets that header);
for a plain-HTTP trial set DJANGO_SECURE_SSL_REDIRECT=false and DJANGO_SECURE_HSTS_SECONDS=0.
"""

from django.core.exceptions import ImproperlyConfigured

from config.django.base import *  # noqa: F403
from config.django.base import DEBUG, DEFAULT_SECRET_KEY, SECRET_KEY
from config.env import env_bool, env_int, env_str

if DEBUG:
    raise ImproperlyConfigured("Production settings refuse DJANGO_DEBUG=true.")
if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Production settings need DJANGO_SECRET_KEY: a random string of at least 32 characters.")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)  # one year
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
_proxy_header = [part.strip() for part in env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "").split(",") if part.strip()]
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured(
        "DJANGO_SECURE_PROXY_SSL_HEADER is '<header>,<value>', e.g. 'HTTP_X_FORWARDED_PROTO,https'."
    )
SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1]) if _proxy_header else None
