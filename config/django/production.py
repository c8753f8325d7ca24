"""Production: PostgreSQL and Redis from the environment; refuses to start unsafely."""

from django.core.exceptions import ImproperlyConfigured

from config.django.base import *  # noqa: F403
from config.django.base import DEBUG, DEFAULT_SECRET_KEY, SECRET_KEY

if DEBUG:
    raise ImproperlyConfigured("Production settings refuse DJANGO_DEBUG=true.")
if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Production settings need DJANGO_SECRET_KEY: a random string of at least 32 characters.")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
