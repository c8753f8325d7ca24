from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from annotator.api.permissions import ApiDocsAccess
from config.settings.csp import API_DOCS_CSP_UPDATE

# The API documentation pages are the only ones whose styles are inline (config/settings/csp.py says why).
docs_styles = csp_update(API_DOCS_CSP_UPDATE)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The one-time set-password link a new member gets (Django's token machinery; annotator.services.projects).
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(post_reset_login=False),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (no inline script, see CSP).
    path(
        "api/docs/",
        docs_styles(SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[ApiDocsAccess])),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        docs_styles(
            SpectacularRedocView.as_view(
                url_name="api-schema", template_name="api/redoc.html", permission_classes=[ApiDocsAccess]
            )
        ),
        name="api-redoc",
    ),
    path("api/v1/", include("config.api_urls")),
    path("", include("annotator.urls")),
    path("", include("rm_jobs.urls")),
]
