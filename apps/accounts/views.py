"""Sign-in pages, the project list, each project's dashboard, project creation and members."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import FormView, TemplateView

from apps.accounts import selectors, services, throttling
from apps.accounts.forms import MemberAddForm, MemberRoleForm, ProjectForm
from apps.accounts.models import Membership, Role
from apps.accounts.permissions import Capability, ProjectAccessMixin
from apps.core.dashboard import dashboard_sections
from apps.core.forms import form_add_service_errors


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

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["demo_users"] = selectors.demo_usernames()
        return context


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


class ProjectCreateView(LoginRequiredMixin, FormView):
    """Any signed-in user may create a project and becomes its admin (as with the API)."""

    template_name = "accounts/project_create.html"
    form_class = ProjectForm

    def form_valid(self, form: ProjectForm) -> HttpResponse:
        try:
            project = services.project_create(
                actor=self.request.user,
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.success(self.request, f"Project {project.name} created; you are its admin.")
        return redirect("members:list", project=project.slug)

    def form_invalid(self, form: ProjectForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class MemberListView(ProjectAccessMixin, TemplateView):
    """A project's members: add a user, change a role, remove (project admins)."""

    template_name = "accounts/members.html"
    required_capability = Capability.PROJECT_MANAGE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["members"] = selectors.project_members(project=self.project)
        context.setdefault("add_form", MemberAddForm(can_create_users=self.can_create_users))
        context["roles"] = Role.choices
        return context

    @property
    def can_create_users(self) -> bool:
        return bool(getattr(self.request.user, "is_superuser", False))


class MemberAddView(MemberListView):
    """POST: add a user (creating the account when a site admin gives a password)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = MemberAddForm(request.POST, can_create_users=self.can_create_users)
        if form.is_valid():
            try:
                membership = services.member_add(
                    actor=request.user,
                    project=self.project,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                    password=form.cleaned_data.get("password", ""),
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"{membership.user.get_username()} is now {membership.role} of "
                    f"{self.project.name}.",
                )
                return redirect("members:list", project=self.project.slug)
        return self.render_to_response(self.get_context_data(add_form=form), status=400)


class MemberChangeView(MemberListView):
    """POST: change a member's role (``action=role``) or remove them (``action=remove``)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(
            Membership.objects.select_related("user"), project=self.project, pk=kwargs["member"]
        )
        username = membership.user.get_username()
        try:
            if request.POST.get("action") == "remove":
                services.membership_remove(
                    actor=request.user, project=self.project, user=membership.user
                )
                messages.success(request, f"{username} was removed from {self.project.name}.")
            else:
                form = MemberRoleForm(request.POST)
                if not form.is_valid():
                    raise ValidationError({"role": form.errors["role"]})
                services.membership_set(
                    actor=request.user,
                    project=self.project,
                    user=membership.user,
                    role=form.cleaned_data["role"],
                )
                messages.success(request, f"{username} is now {form.cleaned_data['role']}.")
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, f"{username}: {message}")
            return self.render_to_response(self.get_context_data(), status=400)
        if membership.user_id == request.user.pk:  # an admin who left or stepped down
            return redirect("home")
        return redirect("members:list", project=self.project.slug)
