"""HTTP through the ASGI application daphne serves: the whole middleware stack runs, in one thread call."""

from inspect import iscoroutinefunction

import pytest
from channels.testing import HttpCommunicator

from pdm_site.asgi import SyncStackASGIHandler, application

HOST = (b"host", b"localhost")


async def fetch(method: str, url: str, *, headers=(), body: bytes = b"") -> dict:
    communicator = HttpCommunicator(application, method, url, body=body, headers=[HOST, *headers])
    return await communicator.get_response()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_page_gets_the_security_headers_and_the_login_redirect():
    answer = await fetch("GET", "/machines/")
    headers = dict(answer["headers"])
    assert answer["status"] == 302 and headers[b"Location"].startswith(b"/login/")
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert headers[b"X-Content-Type-Options"] == b"nosniff"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_form_post_without_its_csrf_token_is_refused():
    answer = await fetch(
        "POST",
        "/login/",
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
        body=b"username=someone&password=something",
    )
    assert answer["status"] == 403


def test_the_middleware_stack_is_synchronous_so_a_request_takes_one_hop_to_a_thread():
    handler = SyncStackASGIHandler()
    assert not iscoroutinefunction(handler._middleware_chain)
    assert not any(iscoroutinefunction(hook) for hook in handler._view_middleware)
