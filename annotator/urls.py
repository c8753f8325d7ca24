from django.urls import path

from annotator.views import home, setup

app_name = "annotator"
urlpatterns = [
    path("", home.home, name="home"),
    path("projects/new/", setup.project_new, name="project_new"),
    path("p/<slug:slug>/settings/", setup.setup_settings, name="setup_settings"),
    path("p/<slug:slug>/settings/guidelines/preview/", setup.setup_guidelines_preview, name="setup_guidelines_preview"),
    path("p/<slug:slug>/settings/attributes/", setup.setup_attributes, name="setup_attributes"),
    path("p/<slug:slug>/settings/members/", setup.setup_members, name="setup_members"),
    path("p/<slug:slug>/settings/import/", setup.setup_import, name="setup_import"),
    path("p/<slug:slug>/settings/gold/", setup.setup_gold, name="setup_gold"),
]
