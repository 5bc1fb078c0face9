"""Sign-in pages, the project list and each project's dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.views.generic import TemplateView

from apps.accounts import selectors, throttling
from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.dashboard import dashboard_sections


class LoginView(auth_views.LoginView):
    """Django's login page with failed-login throttling."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if throttling.login_blocked(username, request):
            form = self.get_form()
            form.add_error(None, "Too many failed sign-ins. Wait a few minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        throttling.login_failed(self.request.POST.get("username", ""), self.request)
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttling.login_succeeded(form.get_user().get_username(), self.request)
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires)."""


class HomeView(LoginRequiredMixin, TemplateView):
    """The projects the user belongs to."""

    template_name = "accounts/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["projects"] = selectors.projects_for_user(user=self.request.user)
        return context


class DashboardView(ProjectAccessMixin, TemplateView):
    """A project's front page: what needs attention, by role."""

    template_name = "accounts/dashboard.html"
    required_capability = Capability.PROJECT_VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["members"] = selectors.project_members(project=self.project)
        context["sections"] = dashboard_sections(
            project=self.project, user=self.request.user, capabilities=self.capabilities
        )
        return context
