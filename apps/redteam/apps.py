from django.apps import AppConfig


class RedTeamConfig(AppConfig):
    name = "apps.redteam"
    label = "redteam"

    def ready(self) -> None:
        """Register the sweep that sends again the next step of a job whose worker died."""
        from apps.core.liveness import register_sweep
        from apps.redteam.services import jobs_sweep_stale

        register_sweep("redteam", jobs_sweep_stale)
