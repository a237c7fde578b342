from django.urls import NoReverseMatch, reverse

from accounts.roles import role_of

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
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return items


def navigation(request):
    if not request.user.is_authenticated:
        return {}
    role = role_of(request.user)
    return {
        "sidebar": _sidebar(request.path),
        "user_role": role.label if role else "no role",
        "show_admin_link": request.user.is_staff,
    }
