"""Content-Security-Policy (django-csp 4): scripts only from this server, nothing from another host.

No page runs inline script or inline event handlers (they live in static/js/), so ``script-src 'self'`` holds
everywhere; JSON for charts travels in ``<script type="application/json">`` blocks, which are data, not script.
Styles allow inline ``style`` attributes and elements: progress bars set their width in the markup, htmx adds its
indicator rule, and Redoc and Swagger UI style themselves at run time.
"""

from csp.constants import NONE, SELF, UNSAFE_INLINE

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    },
}
