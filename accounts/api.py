from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import AnonRateThrottle


@extend_schema(
    summary="Exchange a username and password for an API token (header: Authorization: Token <key>)"
)
class TokenView(ObtainAuthToken):
    throttle_classes = [AnonRateThrottle]
