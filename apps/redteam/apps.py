from django.apps import AppConfig


class RedTeamConfig(AppConfig):
    name = "apps.redteam"
    label = "redteam"
