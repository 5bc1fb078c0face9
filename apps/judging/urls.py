"""Pages of the judging app, mounted under /p/<project>/."""

from django.urls import path  # noqa: F401

app_name = "judging"

urlpatterns: list = []
