"""Pages: alarms with their history, rules (admins edit), work orders, the caller's notifications and
preferences, webhooks (admins), drift, and the partials other pages include (bell, risk, recent alerts).

Thin: reads through the selectors, writes through the services, like the API.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import APIException, ValidationError

from accounts.decorators import role_required
from accounts.roles import Role, has_role
from alerts import selectors
from alerts.forms import (
    AlarmActionForm,
    AlertRuleForm,
    PreferenceForm,
    WebhookForm,
    WorkOrderCloseForm,
    WorkOrderForm,
    add_service_errors,
)
from alerts.models import Alarm, AlertRule, Notification, Severity, Webhook, WorkOrder
from alerts.services import rules, webhooks, work_orders
from alerts.services.alarms import alarm_acknowledge, alarm_resolve
from alerts.services.drift import drift_compute, drift_retrain
from alerts.services.failures import failure_dataset_create
from alerts.services.notifications import (
    notification_read,
    notification_test,
    notifications_read_all,
    preference_of,
    preference_update,
)
from assistant.models import Explanation
from machines.models import Machine

PAGE_SIZE = 25
BELL_ITEMS = 8


def _flash(request, exc: APIException) -> None:
    detail = exc.detail
    if isinstance(detail, dict):
        for field, problems in detail.items():
            messages.error(request, f"{field}: {' '.join(str(p) for p in problems)}")
    else:
        messages.error(request, str(detail))


def _back(request, fallback: str):
    """Back where the form was (the bell, a list, a detail page), else `fallback`."""
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


# --- Alarms -----------------------------------------------------------------------------------------------


@role_required()
@require_GET
def alarms(request):
    active = {"active": True, "resolved": False}.get(request.GET.get("show", "active"))
    filters = {
        "status": request.GET.get("status", "") if request.GET.get("status") in Alarm.Status.values else "",
        "severity": request.GET.get("severity", "") if request.GET.get("severity") in Severity.values else "",
        "kind": request.GET.get("kind", "") if request.GET.get("kind") in AlertRule.Kind.values else "",
        "machine": request.GET.get("machine", "").strip(),
    }
    page = Paginator(selectors.alarms_filtered(active=active, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "filters": filters,
        "show": request.GET.get("show", "active"),
        "statuses": Alarm.Status.choices,
        "severities": Severity.choices,
        "kinds": AlertRule.Kind.choices,
        "counts": selectors.active_alarm_counts(),
        "can_operate": has_role(request.user, Role.OPERATOR),
    }
    return render(request, "alerts/alarms.html", context)


@role_required()
@require_GET
def alarm_detail(request, pk):
    alarm = get_object_or_404(selectors.alarm_list(), pk=pk)
    explanation = (
        Explanation.objects.filter(machine=alarm.machine).order_by("-created_at").first()
        if alarm.machine_id
        else None
    )
    context = {
        "alarm": alarm,
        "events": selectors.alarm_events(alarm),
        "work_orders": alarm.work_orders.select_related("assignee"),
        "explanation": explanation,
        "form": AlarmActionForm(),
        "can_operate": has_role(request.user, Role.OPERATOR),
    }
    return render(request, "alerts/alarm_detail.html", context)


def _alarm_action(request, pk, act, done: str):
    alarm = get_object_or_404(Alarm, pk=pk)
    form = AlarmActionForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        alarm = act(alarm=alarm, user=request.user, comment=comment)
    except APIException as exc:
        if request.htmx:
            return HttpResponse(str(exc.detail), status=exc.status_code)
        _flash(request, exc)
    else:
        if request.htmx:
            return render(request, "alerts/_alarm_state.html", {"alarm": alarm})
        messages.success(request, f"Alarm {alarm.pk} {done}.")
    return _back(request, reverse("alerts:alarm", args=[pk]))


@role_required(read=Role.OPERATOR)
@require_POST
def alarm_acknowledge_page(request, pk):
    return _alarm_action(request, pk, alarm_acknowledge, "acknowledged")


@role_required(read=Role.OPERATOR)
@require_POST
def alarm_resolve_page(request, pk):
    return _alarm_action(request, pk, alarm_resolve, "resolved")


# --- Rules ------------------------------------------------------------------------------------------------


@role_required()
@require_GET
def rules_page(request):
    return render(
        request,
        "alerts/rules.html",
        {"rules": selectors.rule_list(), "can_edit": has_role(request.user, Role.ADMIN)},
    )


def _rule_form_page(request, rule: AlertRule | None):
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        data = {field: form.cleaned_data.get(field) for field in rules.EDITABLE}
        try:
            if rule is None:
                rule = rules.rule_create(data=data, user=request.user)
            else:
                rule = rules.rule_update(rule=rule, data=data, user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Rule “{rule.name}” saved.")
            return redirect("alerts:rules")
    status = 400 if request.method == "POST" else 200
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule}, status=status)


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def rule_new(request):
    return _rule_form_page(request, None)


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def rule_edit(request, pk):
    return _rule_form_page(request, get_object_or_404(AlertRule, pk=pk))


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def rule_delete_page(request, pk):
    rule = get_object_or_404(AlertRule, pk=pk)
    if request.method == "POST":
        rules.rule_delete(rule=rule, user=request.user)
        messages.success(request, f"Rule “{rule.name}” deleted; its alarms stay in the history.")
        return redirect("alerts:rules")
    return render(request, "alerts/rule_delete.html", {"rule": rule})


# --- Work orders ------------------------------------------------------------------------------------------


@role_required()
@require_GET
def work_orders_page(request):
    status = request.GET.get("status", "") if request.GET.get("status") in WorkOrder.Status.values else ""
    orders = selectors.work_order_list().order_by("-created_at", "-id")
    if status:
        orders = orders.filter(status=status)
    if request.GET.get("mine"):
        orders = orders.filter(assignee=request.user)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/work_orders.html",
        {
            "page": page,
            "status": status,
            "mine": bool(request.GET.get("mine")),
            "statuses": WorkOrder.Status.choices,
        },
    )


def _source(request) -> tuple[Alarm | None, Explanation | None]:
    source = request.POST if request.method == "POST" else request.GET
    alarm = get_object_or_404(Alarm, pk=source["alarm"]) if source.get("alarm", "").isdigit() else None
    explanation = (
        get_object_or_404(Explanation, pk=source["explanation"])
        if source.get("explanation", "").isdigit()
        else None
    )
    return alarm, explanation


@role_required(read=Role.OPERATOR)
def work_order_new(request):
    """From an alarm (?alarm=), an explanation (?explanation=) — one click — or by hand (?machine=)."""
    alarm, explanation = _source(request)
    if request.method == "POST" and (alarm or explanation):
        try:
            if alarm is not None:
                order = work_orders.work_order_from_alarm(alarm=alarm, user=request.user)
            else:
                order = work_orders.work_order_from_explanation(explanation=explanation, user=request.user)
        except APIException as exc:
            _flash(request, exc)
            return redirect("alerts:work_orders")
        messages.success(request, f"Work order WO-{order.pk} created.")
        return redirect("alerts:work_order", pk=order.pk)
    machines = Machine.objects.filter(is_active=True).order_by("machine_id")
    form = WorkOrderForm(request.POST or None, assignees=selectors.assignable_users())
    machine = machines.filter(
        machine_id=request.POST.get("machine") or request.GET.get("machine", "")
    ).first()
    if request.method == "POST" and form.is_valid():
        if machine is None:
            form.add_error(None, "Choose the machine.")
        else:
            data = form.cleaned_data
            try:
                order = work_orders.work_order_create(
                    machine=machine,
                    task=data["task"],
                    description=data["description"],
                    recommended_actions=data["recommended_actions"],
                    priority=data["priority"],
                    due_at=data["due_at"],
                    assignee=data["assignee"],
                    user=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Work order WO-{order.pk} created.")
                return redirect("alerts:work_order", pk=order.pk)
    context = {
        "form": form,
        "machines": machines,
        "machine": machine,
        "alarm": alarm,
        "explanation": explanation,
    }
    return render(
        request, "alerts/work_order_new.html", context, status=400 if request.method == "POST" else 200
    )


@role_required()
def work_order_detail(request, pk):
    order = get_object_or_404(selectors.work_order_list(), pk=pk)
    can_operate = has_role(request.user, Role.OPERATOR)
    initial = {
        "task": order.task,
        "description": order.description,
        "recommended_actions": "\n".join(order.recommended_actions),
        "priority": order.priority,
        "due_at": order.due_at,
        "assignee": order.assignee,
        "notes": order.notes,
    }
    form = WorkOrderForm(request.POST or None, initial=initial, assignees=selectors.assignable_users())
    if request.method == "POST" and form.is_valid():
        try:
            work_orders.work_order_update(work_order=order, data=form.cleaned_data, user=request.user)
        except APIException as exc:
            _flash(request, exc)
        else:
            messages.success(request, f"WO-{order.pk} saved.")
        return redirect("alerts:work_order", pk=order.pk)
    context = {
        "order": order,
        "form": form,
        "close_form": WorkOrderCloseForm(),
        "events": order.maintenance_events.all(),
        "can_operate": can_operate,
    }
    return render(request, "alerts/work_order_detail.html", context)


@role_required(read=Role.OPERATOR)
@require_POST
def work_order_status(request, pk):
    """Start (action=start) or close (action=close with the outcome) a work order."""
    order = get_object_or_404(WorkOrder, pk=pk)
    try:
        if request.POST.get("action") == "start":
            work_orders.work_order_start(work_order=order, user=request.user)
            messages.success(request, f"WO-{order.pk} in progress.")
        else:
            form = WorkOrderCloseForm(request.POST)
            if not form.is_valid():
                for field, problems in form.errors.items():
                    messages.error(request, f"{field}: {' '.join(problems)}")
                return redirect("alerts:work_order", pk=order.pk)
            work_orders.work_order_close(work_order=order, user=request.user, **form.cleaned_data)
            messages.success(request, f"WO-{order.pk} done.")
    except APIException as exc:
        _flash(request, exc)
    return redirect("alerts:work_order", pk=order.pk)


# --- Notifications and preferences (the caller's own) -----------------------------------------------------


@role_required()
@require_GET
def notifications_page(request):
    page = Paginator(selectors.notifications_of(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "alerts/notifications.html", {"page": page})


def _bell_panel(request):
    context = {
        "notifications": selectors.notifications_of(request.user)[:BELL_ITEMS],
        "unread": selectors.unread_count(request.user),
        "can_operate": has_role(request.user, Role.OPERATOR),
    }
    return render(request, "alerts/_bell_panel.html", context)


@role_required()
@require_GET
def bell(request):
    """The bell's panel: the caller's latest notifications, with acknowledge buttons for operators."""
    return _bell_panel(request)


@role_required(write=Role.VIEWER)
@require_POST
def notification_read_page(request, pk):
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notification_read(notification=notification, user=request.user)
    if request.htmx:
        return _bell_panel(request) if request.htmx.target == "bell-panel" else HttpResponse(status=204)
    return _back(request, notification.url or reverse("alerts:notifications"))


@role_required(write=Role.VIEWER)
@require_POST
def notifications_read_all_page(request):
    marked = notifications_read_all(user=request.user)
    if request.htmx:
        return _bell_panel(request)
    messages.success(request, f"{marked} notification(s) marked read.")
    return _back(request, reverse("alerts:notifications"))


@role_required(write=Role.VIEWER)
def preferences(request):
    preference = preference_of(request.user)
    form = PreferenceForm(
        request.POST or None,
        initial={
            "browser_severities": preference.browser_severities,
            "email_severities": preference.email_severities,
            "job_updates": preference.job_updates,
        },
    )
    if request.method == "POST" and form.is_valid():
        preference_update(user=request.user, data=form.cleaned_data)
        messages.success(request, "Notification preferences saved.")
        return redirect("alerts:preferences")
    return render(request, "alerts/preferences.html", {"form": form, "email": request.user.email})


@role_required(write=Role.VIEWER)
@require_POST
def preferences_test(request):
    notification_test(user=request.user)
    if request.htmx:
        return HttpResponse(status=204)  # the page stays: the toast arrives over its socket
    inbox = " and reach your inbox" if request.user.email else ""
    messages.success(request, f"Test notification sent: it should pop up now{inbox}.")
    return redirect("alerts:preferences")


# --- Webhooks (admins) ------------------------------------------------------------------------------------


def _webhook_data(form: WebhookForm) -> dict:
    data = dict(form.cleaned_data)
    if not data["secret"]:
        data.pop("secret")
    return data


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def webhooks_page(request):
    form = WebhookForm(request.POST or None, initial={"severities": ["warning", "critical"], "enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            webhook = webhooks.webhook_create(data=_webhook_data(form), user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Webhook {webhook.name} created: give its secret to the receiver.")
            return redirect("alerts:webhook", pk=webhook.pk)
    return render(
        request,
        "alerts/webhooks.html",
        {"webhooks": selectors.webhook_list(), "form": form},
        status=400 if request.method == "POST" else 200,
    )


@role_required(read=Role.ADMIN, write=Role.ADMIN)
def webhook_detail(request, pk):
    webhook = get_object_or_404(Webhook, pk=pk)
    form = WebhookForm(
        request.POST or None,
        initial={
            "name": webhook.name,
            "url": webhook.url,
            "severities": webhook.severities,
            "events": webhook.events,
            "enabled": webhook.enabled,
        },
    )
    action = request.POST.get("action")
    if action == "delete":
        webhooks.webhook_delete(webhook=webhook, user=request.user)
        messages.success(request, f"Webhook {webhook.name} deleted.")
        return redirect("alerts:webhooks")
    if action == "ping":
        webhooks.webhook_ping(webhook=webhook, user=request.user)
        messages.success(request, "Test event queued: its delivery appears below.")
        return redirect("alerts:webhook", pk=webhook.pk)
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.webhook_update(webhook=webhook, data=_webhook_data(form), user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Webhook {webhook.name} saved.")
            return redirect("alerts:webhook", pk=webhook.pk)
    deliveries = Paginator(selectors.webhook_deliveries(webhook), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "alerts/webhook_detail.html", {"webhook": webhook, "form": form, "deliveries": deliveries}
    )


# --- Drift ------------------------------------------------------------------------------------------------


@role_required()
@require_GET
def drift_page(request):
    return render(
        request,
        "alerts/drift.html",
        {"reports": selectors.drift_overview(), "can_operate": has_role(request.user, Role.OPERATOR)},
    )


@role_required()
@require_GET
def drift_machine(request, machine_id):
    machine = get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)
    reports = machine.drift_reports.order_by("-created_at", "-id")[:20]
    return render(
        request,
        "alerts/drift_machine.html",
        {
            "machine": machine,
            "report": reports[0] if reports else None,
            "history": reports,
            "can_operate": has_role(request.user, Role.OPERATOR),
        },
    )


@role_required(read=Role.OPERATOR)
@require_POST
def drift_check_page(request, machine_id):
    machine = get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)
    report = drift_compute(machine=machine)
    if report is None:
        messages.error(
            request, "Drift needs a serving model with its training data and enough recent readings."
        )
    elif report.drifted:
        messages.error(request, f"Drift found (max PSI {report.max_psi:.2f}): consider retraining.")
    else:
        messages.success(request, f"No drift (max PSI {report.max_psi:.2f}).")
    return _back(request, reverse("alerts:drift_machine", args=[machine_id]))


@role_required(read=Role.OPERATOR)
@require_POST
def drift_retrain_page(request, machine_id):
    machine = get_object_or_404(Machine.objects.select_related("category"), machine_id=machine_id)
    try:
        job = drift_retrain(machine=machine, user=request.user)
    except APIException as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"Training job {job.pk} started: {job.message}.")
    return _back(request, reverse("alerts:drift_machine", args=[machine_id]))


@role_required(read=Role.OPERATOR)
@require_POST
def failure_dataset_page(request, machine_id):
    machine = get_object_or_404(Machine, machine_id=machine_id)
    try:
        dataset = failure_dataset_create(machine=machine, user=request.user)
    except APIException as exc:
        _flash(request, exc)
        return _back(request, reverse("predictions:machine_health", args=[machine_id]))
    messages.success(request, "Labelled runs uploaded: confirm the mapping, then train from real data.")
    return redirect("predictions:real_dataset", pk=dataset.pk)


# --- Partials the dashboard and machine pages include -----------------------------------------------------


@role_required()
@require_GET
def risk_panel(request):
    return render(request, "alerts/_risk.html", {"alerts_risk": selectors.fleet_risk(limit=10)})


@role_required()
@require_GET
def recent_panel(request):
    return render(request, "alerts/_recent.html", {"alerts_recent": selectors.recent_alarms()})
