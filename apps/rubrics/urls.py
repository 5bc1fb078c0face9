"""Pages of the rubrics app, mounted under /p/<project>/."""

from django.urls import path  # noqa: F401

app_name = "rubrics"

urlpatterns: list = []
