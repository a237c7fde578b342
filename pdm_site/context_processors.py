from django.urls import NoReverseMatch, reverse

from accounts.roles import Role, role_of

# Sidebar entries as (label, URL name); an entry whose app is not installed yet is left out.
SIDEBAR = [
    ("Dashboard", "dashboard"),
    ("Machines", "machines:list"),
    ("New machine", "machines:new"),
    ("Data explorer", "gan:explorer"),
    ("Batch operations", "gan:batch"),
    ("Models", "predictions:models"),
    ("Alarms", "alerts:alarms"),
    ("Work orders", "alerts:work_orders"),
    ("Assistant", "assistant:chat"),
    ("Reports", "assistant:reports"),
]


def _sidebar(path: str) -> list[dict]:
    items = []
    for label, name in SIDEBAR:
        try:
            items.append({"label": label, "url": reverse(name), "active": False})
        except NoReverseMatch:
            continue
    # The longest entry the path starts with is the current one (/machines/new/ over /machines/).
    matches = [
        item for item in items if path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    ]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return items


def navigation(request):
    if not request.user.is_authenticated:
        return {}
    role = role_of(request.user)
    return {
        "sidebar": _sidebar(request.path),
        "user_role": role.label if role else "no role",
        "can_operate": role is not None and role >= Role.OPERATOR,
        "is_admin_role": role is Role.ADMIN,
        "show_admin_link": request.user.is_staff,
    }
