"""Content-Security-Policy (django-csp 4): scripts only from this server, nothing from another host.

No page runs inline script or inline event handlers (they live in static/js/), so ``script-src 'self'`` holds
everywhere; JSON for charts travels in ``<script type="application/json">`` blocks, which are data, not script.

Styles come from static/css only (``style-src 'self'``): no template has a ``style`` attribute or element (progress
bars are ``<progress>`` elements), and htmx's indicator rule is switched off in base.html's ``htmx-config`` meta and
lives in app.css. Scripts may still set styles through the CSSOM (Chart.js sizes its canvases so), which the
directive does not govern. The one exception is the two API documentation pages: Redoc's styled-components add
``<style>`` elements at run time and drf-spectacular's Swagger UI page has a ``<style>`` block, so those views
alone add ``'unsafe-inline'`` to ``style-src`` (:data:`API_DOCS_CSP_UPDATE`, applied in config/urls.py); their
``script-src`` stays ``'self'``.
"""

from csp.constants import NONE, SELF, UNSAFE_INLINE

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
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

# Redoc and Swagger UI only (config/urls.py): their bundles style themselves with <style> elements.
API_DOCS_CSP_UPDATE = {"style-src": [UNSAFE_INLINE]}
