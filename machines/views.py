"""Pages of the fleet catalogue: the list, a machine, New machine (form, upload, template), edit."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from accounts.decorators import role_required
from accounts.roles import Role, has_role
from machines.caching import list_cached
from machines.filters import ORDERINGS, MachineFilter
from machines.forms import (
    NEW_TYPE,
    ProfileCheck,
    ProfileDocumentForm,
    ProfileUploadForm,
    error_paths,
    form_state,
    path_errors,
    profile_check,
    profile_from_fields,
)
from machines.models import Machine, MachineCategory
from machines.profile_formats import FORMATS, dump_profile_text
from machines.selectors import (
    category_names,
    machine_current_version,
    machine_detail_queryset,
    machine_list,
    machine_profile,
    machine_versions,
    profile_template,
    profile_template_names,
)
from machines.services import (
    CatalogueConflict,
    machine_create,
    machine_delete,
    machine_set_active,
    machine_update,
    profile_version_restore,
)

PAGE_SIZE = 25
COLUMNS = (
    ("machine_id", "Machine"),
    ("category", "Type"),
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("location", "Location"),
    ("sensors", "Sensors"),
    ("is_active", "Status"),
    ("updated_at", "Updated"),
)
MODES = ("form", "upload", "template")


@role_required()
def machine_list_page(request):
    ordering = request.GET.get("ordering") or "machine_id"
    # The table is the same for every caller of a role class (operators see an "Add one" link): rendered
    # once per change of the catalogue.
    can_operate = has_role(request.user, Role.OPERATOR)
    table = list_cached(
        "page-table",
        f"{request.get_full_path()}|{can_operate}",
        lambda: render_to_string("machines/_table.html", _table_context(request, ordering), request=request),
    )
    if request.htmx and not request.htmx.history_restore_request:
        return HttpResponse(table)
    context = {
        "table": table,
        "categories": list_cached("category-names", "", lambda: list(category_names())),
        "filters": {name: request.GET.get(name, "") for name in ("search", "category", "is_active")},
        "ordering": ordering,
        "orderings": [alias for _, alias in ORDERINGS],
    }
    return render(request, "machines/list.html", context)


def _table_context(request, ordering: str) -> dict:
    filterset = MachineFilter(request.GET, queryset=machine_list())
    return {
        "page": Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page")),
        "columns": [_column(key, label, ordering) for key, label in COLUMNS],
    }


def _column(key: str, label: str, ordering: str) -> dict:
    sorted_by = ordering.lstrip("-") == key
    descending = ordering.startswith("-")
    return {
        "label": label,
        "ordering": f"-{key}" if sorted_by and not descending else key,
        "indicator": ("▼" if descending else "▲") if sorted_by else "",
        "aria_sort": ("descending" if descending else "ascending") if sorted_by else "none",
    }


@role_required()
def machine_detail(request, machine_id):
    machine = get_object_or_404(machine_detail_queryset(), machine_id=machine_id)
    profile = machine_profile(machine)
    versions = machine_versions(machine)
    return render(
        request,
        "machines/detail.html",
        {
            "machine": machine,
            "profile": profile,
            "profile_yaml": dump_profile_text(profile, "yaml"),
            "versions": versions,
            "current_version": versions[0].number if versions else None,
            "formats": FORMATS,
        },
    )


# --- New machine ---------------------------------------------------------------------------------------


@role_required(read=Role.OPERATOR)
def machine_new(request):
    mode = request.GET.get("mode") if request.GET.get("mode") in MODES else "upload"
    if request.method == "POST":
        mode = request.POST.get("mode") if request.POST.get("mode") in MODES else mode
        if mode == "form":
            return _create_from_fields(request)
        if request.POST.get("action") == "upload":
            return _page_new(request, mode, editor=_editor_from_upload(request))
        return _create_from_document(request, mode)
    editor = None
    template_name = request.GET.get("template")
    if template_name in profile_template_names():
        mode = "template"
        text = dump_profile_text(profile_template(template_name)["profile"], "yaml")
        editor = _editor_state(ProfileDocumentForm(initial={"document": text}), text=text)
    return _page_new(request, mode, editor=editor)


def _page_new(request, mode: str, *, editor=None, form=None, status=200):
    categories = MachineCategory.objects.prefetch_related("sensors")
    context = {
        "mode": mode,
        "modes": [("form", "Form"), ("upload", "Upload a file"), ("template", "From a template")],
        "editor": editor or _editor_state(ProfileDocumentForm()),
        "upload_form": ProfileUploadForm(),
        "templates": [{"name": name, **profile_template(name)} for name in profile_template_names()],
        "formats": FORMATS,
        "form": form or _form_context(None, ProfileCheck()),
        "categories": categories,
        "category_sensors": {
            category.name: [
                {"name": spec.name, "unit": spec.unit, "description": spec.description}
                for spec in category.sensors.all()
            ]
            for category in categories
        },
        "new_type": NEW_TYPE,
    }
    return render(request, "machines/new.html", context, status=status)


def _editor_state(
    form: ProfileDocumentForm, *, text: str | None = None, upload_error: str = "", machine=None
):
    """The editor's text and its check; `text` given without a bound form: check it now (a template)."""
    if text is not None and not form.is_bound:
        form = ProfileDocumentForm({"document": text}, machine=machine)
    if form.is_bound:
        form.is_valid()
    return {"form": form, "check": form.check, "upload_error": upload_error, "machine": machine}


def _editor_from_upload(request):
    upload = ProfileUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _editor_state(ProfileDocumentForm(), upload_error=" ".join(upload.errors.get("file", [])))
    return _editor_state(ProfileDocumentForm({"document": upload.cleaned_data["text"]}))


def _create_from_document(request, mode: str):
    form = ProfileDocumentForm(request.POST)
    if form.is_valid():
        try:
            machine = machine_create(profile=form.cleaned_data["profile"], user=request.user)
        except ValidationError as exc:  # taken by another request since the check
            form.check = ProfileCheck(errors=path_errors(exc, form.cleaned_data["document"]))
        else:
            messages.success(request, f"Machine {machine.machine_id} created (profile v1).")
            return redirect("machines:detail", machine_id=machine.machine_id)
    return _page_new(request, mode, editor=_editor_state(form))


def _create_from_fields(request):
    check = profile_check(profile_from_fields(request.POST))
    if check.valid:
        try:
            machine = machine_create(profile=check.profile, user=request.user)
        except ValidationError as exc:
            check = ProfileCheck(errors=path_errors(exc))
        else:
            messages.success(request, f"Machine {machine.machine_id} created (profile v1).")
            return redirect("machines:detail", machine_id=machine.machine_id)
    return _page_new(request, "form", form=_form_context(request.POST, check))


def _form_context(data, check: ProfileCheck) -> dict:
    return {**form_state(data), "check": check, "errors": error_paths(check)}


@role_required(read=Role.OPERATOR)
@require_POST
def profile_check_view(request):
    """htmx: check the editor's document, the form's fields, or an uploaded file, as the user works."""
    machine_id = request.GET.get("machine")
    machine = get_object_or_404(Machine, machine_id=machine_id) if machine_id else None
    mode = request.POST.get("mode")
    if mode == "form":
        check = profile_check(profile_from_fields(request.POST))
        return render(request, "machines/_form_check.html", {"form": _form_context(None, check)})
    if mode == "upload":
        return render(request, "machines/_editor.html", {"editor": _editor_from_upload(request)})
    form = ProfileDocumentForm(request.POST, machine=machine)
    form.is_valid()
    return render(
        request,
        "machines/_check.html",
        {"editor": {"form": form, "check": form.check, "machine": machine}},
    )


# --- One machine: edit, versions, status, delete ------------------------------------------------------------


@role_required(read=Role.OPERATOR)
def machine_edit(request, machine_id):
    machine = get_object_or_404(machine_detail_queryset(), machine_id=machine_id)
    if request.method == "POST":
        form = ProfileDocumentForm(request.POST, machine=machine)
        if form.is_valid():
            before = machine_current_version(machine)
            note = form.cleaned_data["note"] or "Edited"
            machine_update(
                machine=machine, profile=form.cleaned_data["profile"], user=request.user, note=note
            )
            after = machine_current_version(machine)
            if after == before:
                messages.info(request, "No change: the profile is the same as the current version.")
            else:
                messages.success(request, f"Profile saved as v{after}.")
            return redirect("machines:detail", machine_id=machine.machine_id)
        editor = _editor_state(form, machine=machine)
    else:
        text = dump_profile_text(machine_profile(machine), "yaml")
        editor = _editor_state(ProfileDocumentForm(initial={"document": text}), text=text, machine=machine)
    return render(request, "machines/edit.html", {"machine": machine, "editor": editor})


@role_required()
@require_POST
def version_restore(request, machine_id, number):
    machine = get_object_or_404(Machine, machine_id=machine_id)
    version = get_object_or_404(machine_versions(machine), number=number)
    try:
        profile_version_restore(version=version, user=request.user)
    except ValidationError as exc:
        problems = "; ".join(f"{error.path}: {error.messages[0]}" for error in path_errors(exc))
        messages.error(request, f"v{number} cannot be restored as it is: {problems}")
    else:
        messages.success(request, f"v{number} restored as the current profile.")
    return redirect(reverse("machines:detail", args=[machine_id]) + "#versions")


@role_required()
@require_POST
def machine_activation(request, machine_id):
    machine = get_object_or_404(Machine, machine_id=machine_id)
    active = request.POST.get("is_active") == "true"
    machine_set_active(machine=machine, active=active, user=request.user)
    messages.success(request, f"{machine.machine_id} is now {'active' if active else 'inactive'}.")
    return redirect("machines:detail", machine_id=machine_id)


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def machine_delete_page(request, machine_id):
    machine = get_object_or_404(machine_detail_queryset(), machine_id=machine_id)
    if request.method == "POST":
        try:
            machine_delete(machine=machine, user=request.user)
        except CatalogueConflict as exc:
            messages.error(request, str(exc))
            return redirect("machines:detail", machine_id=machine_id)
        messages.success(request, f"Machine {machine_id} deleted.")
        return redirect("machines:list")
    return render(request, "machines/delete.html", {"machine": machine})
