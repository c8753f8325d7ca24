from django.urls import path

from annotator.views import home

app_name = "annotator"
urlpatterns = [
    path("", home.home, name="home"),
]
