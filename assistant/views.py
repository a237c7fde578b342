"""Pages: the assistant chat, the reports, the manuals. Thin: selectors read, services write.

The Explain panel is not a page: the dashboard and the machine health page include it
(templatetags.assistant_tags.explain_panel) and it streams over /ws/assistant/.
"""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError

from accounts.decorators import role_required
from accounts.roles import Role, has_role
from assistant import selectors
from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.models import ManualDocument
from assistant.services.chat import conversation_delete, conversation_of
from assistant.services.llm import llm_status
from assistant.services.manuals import manual_delete, manual_rows, manual_upload
from assistant.services.reports import report_request
from machines.models import Machine, MachineCategory

CONVERSATIONS_SHOWN = 50
REPORTS_PER_PAGE = 25


def _problems(exc: ValidationError) -> list[str]:
    if isinstance(exc.detail, dict):
        return [f"{field}: {' '.join(str(m) for m in problems)}" for field, problems in exc.detail.items()]
    return [str(item) for item in exc.detail]


@role_required()
@require_GET
def chat(request):
    """The chat: the user's conversations, the one shown (?conversation=<id>, the latest, or ?new=1)."""
    wanted = request.GET.get("conversation", "")
    if wanted:
        current = conversation_of(request.user, wanted)
        if current is None:
            raise Http404("No such conversation of yours.")
    elif request.GET.get("new"):
        current = None
    else:
        current = selectors.latest_conversation(request.user)
    machine_id = (
        current.machine.machine_id if current and current.machine_id else request.GET.get("machine", "")
    )
    context = {
        "conversations": selectors.conversation_list(request.user)[:CONVERSATIONS_SHOWN],
        "current": current,
        "chat_messages": selectors.conversation_messages(current) if current else [],
        "machines": Machine.objects.filter(is_active=True)
        .order_by("machine_id")
        .values_list("machine_id", flat=True),
        "selected_machine": machine_id,
        "can_ask": has_role(request.user, Role.OPERATOR),
        "max_chars": MAX_QUESTION_CHARS,
        "llm": llm_status(),
    }
    return render(request, "assistant/chat.html", context)


@role_required()
@require_POST
def conversation_delete_page(request, pk):
    conversation = conversation_of(request.user, pk)
    if conversation is None:
        raise Http404("No such conversation of yours.")
    conversation_delete(conversation=conversation)
    messages.success(request, "Conversation deleted.")
    return redirect("assistant:chat")


@role_required()
def reports(request):
    """The reports list and the request form (POST: operators; an empty machine means the fleet)."""
    if request.method == "POST":
        machine_id = request.POST.get("machine", "")
        machine = Machine.objects.filter(machine_id=machine_id).first() if machine_id else None
        if machine_id and machine is None:
            messages.error(request, f"machine: unknown machine {machine_id[:100]!r}")
        else:
            report = report_request(machine=machine, user=request.user)
            messages.success(request, f"{report.label} report requested (job {report.job_id}).")
        return redirect("assistant:reports")
    page = Paginator(selectors.report_list(), REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "machines": Machine.objects.filter(is_active=True)
        .order_by("machine_id")
        .values_list("machine_id", flat=True),
        "can_operate": has_role(request.user, Role.OPERATOR),
    }
    return render(request, "assistant/reports.html", context)


@role_required()
@require_GET
def report_row(request, pk):
    """One row of the reports table: swapped in when its job finishes."""
    report = get_object_or_404(selectors.report_list(), pk=pk)
    return render(request, "assistant/_report_row.html", {"report": report})


def _manuals_context(request, errors=None) -> dict:
    return {
        "manuals": manual_rows(),
        "categories": MachineCategory.objects.order_by("name"),
        "is_admin": has_role(request.user, Role.ADMIN),
        "max_bytes": settings.ASSISTANT_MANUAL_MAX_BYTES,
        "errors": errors or [],
    }


@role_required(write=Role.ADMIN)
def manuals(request):
    """The manuals the assistant searches; admins upload more (POST)."""
    if request.method != "POST":
        return render(request, "assistant/manuals.html", _manuals_context(request))
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    limit = settings.ASSISTANT_MANUAL_MAX_BYTES
    if length > limit + 64 * 1024:
        errors = [f"file: {length / 1e6:.1f} MB is over the {limit / 1e6:.1f} MB limit for a manual"]
        return render(request, "assistant/manuals.html", _manuals_context(request, errors), status=413)
    upload = request.FILES.get("file")
    category_name = request.POST.get("category", "")
    category = MachineCategory.objects.filter(name=category_name).first() if category_name else None
    try:
        if upload is None:
            raise ValidationError({"file": ["choose a .txt, .md or .pdf file"]})
        if category_name and category is None:
            raise ValidationError({"category": [f"unknown category {category_name[:50]!r}"]})
        manual = manual_upload(upload=upload, category=category, user=request.user)
    except ValidationError as exc:
        return render(
            request, "assistant/manuals.html", _manuals_context(request, _problems(exc)), status=400
        )
    messages.success(request, f"{manual.name} uploaded: {manual.chunks} passages are searchable now.")
    return redirect("assistant:manuals")


@role_required(read=Role.ADMIN, write=Role.ADMIN)
@require_POST
def manual_delete_page(request, pk):
    manual = get_object_or_404(ManualDocument, pk=pk)
    manual_delete(manual=manual)
    messages.success(request, f"{manual.name} deleted.")
    return redirect("assistant:manuals")
