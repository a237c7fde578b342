import functools

from django.urls import NoReverseMatch, get_script_prefix, reverse

from accounts.roles import Role, role_of

# Sidebar entries as (label, URL name, role needed); an entry whose app is not installed yet is left out.
SIDEBAR = [
    ("Dashboard", "dashboard", Role.VIEWER),
    ("Machines", "machines:list", Role.VIEWER),
    ("New machine", "machines:new", Role.OPERATOR),
    ("Data explorer", "gan:explorer", Role.VIEWER),
    ("Batch operations", "gan:batch", Role.VIEWER),
    ("Models", "predictions:models", Role.VIEWER),
    ("Alarms", "alerts:alarms", Role.VIEWER),
    ("Work orders", "alerts:work_orders", Role.VIEWER),
    ("Assistant", "assistant:chat", Role.VIEWER),
    ("Reports", "assistant:reports", Role.VIEWER),
]


@functools.cache
def _entries(role: Role | None, script_prefix: str) -> tuple[tuple[str, str], ...]:
    """The (label, URL) pairs a role sees: fixed once the URLconf is loaded, so reversed once per process."""
    entries = []
    for label, name, needed in SIDEBAR:
        if role is None or role < needed:
            continue
        try:
            entries.append((label, reverse(name)))
        except NoReverseMatch:
            continue
    return tuple(entries)


def _sidebar(path: str, role: Role | None) -> list[dict]:
    entries = _entries(role, get_script_prefix())
    items = [{"label": label, "url": url, "active": False} for label, url in entries]
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
        "sidebar": _sidebar(request.path, role),
        "user_role": role.label if role else "no role",
        "can_operate": role is not None and role >= Role.OPERATOR,
        "is_admin_role": role is Role.ADMIN,
        "show_admin_link": request.user.is_staff,
    }
