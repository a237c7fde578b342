"""Who is asking, without a query per request: users, their permissions and API tokens kept per process.

Every page and API call needs the user, their role (two permission queries in Django's ModelBackend) and,
for integrators, their token. These rows change rarely, so each process keeps what it has read until any of
them changes (`accounts.apps` connects the signals). Writes that bypass the ORM's signals (raw SQL) are not
seen until the next signalled change.
"""

import copy

from django.contrib.auth.backends import ModelBackend
from rest_framework.authentication import TokenAuthentication

from pdm_site.tables import ProcessTable

AUTH_TABLE = ProcessTable("auth", lambda: {"users": {}, "permissions": {}, "tokens": {}})


def _private_copy(user, table: dict | None = None):
    """Each request gets its own instance: per-request attributes (the permission cache, the backend) stay
    out of the shared one. With the table the user came from, the copy carries the permissions it holds:
    the role check then reads nothing more."""
    private = copy.copy(user)
    if table is not None and user.pk in table["permissions"]:
        private._perm_cache = table["permissions"][user.pk]
    return private


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        table = AUTH_TABLE.get()
        users = table["users"]
        if user_id not in users:
            users[user_id] = super().get_user(user_id)
        user = users[user_id]
        return _private_copy(user, table) if user is not None else None

    def get_all_permissions(self, user_obj, obj=None):
        cacheable = obj is None and user_obj.is_active and not user_obj.is_anonymous
        if cacheable and not hasattr(user_obj, "_perm_cache"):
            permissions = AUTH_TABLE.get()["permissions"]
            if user_obj.pk not in permissions:
                permissions[user_obj.pk] = frozenset(super().get_all_permissions(_private_copy(user_obj)))
            user_obj._perm_cache = permissions[user_obj.pk]
        return super().get_all_permissions(user_obj, obj)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token check (same answers, same errors), with the token row kept per process."""

    def authenticate_credentials(self, key):
        table = AUTH_TABLE.get()
        tokens = table["tokens"]
        if key not in tokens:
            tokens[key] = super().authenticate_credentials(key)
        user, token = tokens[key]
        return _private_copy(user, table), token
