"""/ws/assistant/ over a real WebSocket: a daphne process in server mode (PostgreSQL, the Redis channel layer)
with the tiny model, driven by the `websockets` client."""

import json
import time

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from accounts.roles import Role
from assistant.consumers import MAX_FRAME_CHARS
from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.models import Conversation, Explanation, Message

pytestmark = pytest.mark.django_db(transaction=True)
FRAME_TIMEOUT = 60


def open_socket(server, user=None, query: str = ""):
    headers = {}
    if user is not None:
        client = Client()
        client.force_login(user)
        headers["Cookie"] = f"sessionid={client.cookies['sessionid'].value}"
    return connect(f"{server.ws_url}/ws/assistant/{query}", origin=server.url, additional_headers=headers)


def receive(socket) -> dict:
    return json.loads(socket.recv(timeout=FRAME_TIMEOUT))


def until_final(socket) -> list[dict]:
    """Every frame up to and including the final (or an error)."""
    frames = []
    while not frames or frames[-1]["type"] not in ("final", "error"):
        frames.append(receive(socket))
    return frames


def joined(socket) -> dict:
    history = receive(socket)
    assert history["type"] == "history"
    return history


def test_anonymous_and_roleless_sockets_are_closed(daphne_server, make_user):
    for user, code in ((None, 4401), (make_user(None), 4403)):
        with open_socket(daphne_server, user) as socket, pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=FRAME_TIMEOUT)
        assert closed.value.rcvd.code == code


def test_an_answer_streams_then_a_final_frame_and_both_messages_are_stored(
    daphne_server, operator, warning_motor
):
    machine, _ = warning_motor
    with open_socket(daphne_server, operator) as socket:
        assert joined(socket) == {"type": "history", "conversation": None, "messages": [], "can_ask": True}
        socket.send(
            json.dumps(
                {"type": "ask", "question": "Why does the bearing run hot?", "machine": machine.machine_id}
            )
        )
        frames = until_final(socket)

    tokens = [frame for frame in frames if frame["type"] == "token"]
    final = frames[-1]
    assert final["type"] == "final" and final["done"] is True and final["kind"] == "chat"
    assert tokens and all(frame["done"] is False for frame in tokens)
    assert "".join(frame["content"] for frame in tokens).strip() == final["text"]
    assert final["source"] == "llm" and final["finish_reason"] == "length"
    assert final["citations"] and {"number", "source", "section", "text"} <= set(final["citations"][0])
    assert {"type": "queued", "position": 0} in frames[: frames.index(tokens[0])]
    conversation = Conversation.objects.get(user=operator)
    assert final["conversation"] == {
        "id": conversation.pk,
        "title": conversation.title,
        "machine": machine.machine_id,
    }
    stored = list(conversation.messages.values_list("role", "text"))
    assert stored == [("user", "Why does the bearing run hot?"), ("assistant", final["text"])]


def test_stop_ends_the_answer_early_and_keeps_what_was_written(daphne_server, operator):
    with open_socket(daphne_server, operator) as socket:
        joined(socket)
        socket.send(json.dumps({"type": "ask", "question": "List every inspection step for a pump."}))
        frame = receive(socket)
        while frame["type"] != "token":
            frame = receive(socket)
        socket.send(json.dumps({"type": "stop"}))
        final = until_final(socket)[-1]

    assert final["stopped"] is True and final["finish_reason"] == "cancelled"
    assert final["text"]
    answer = Message.objects.get(role="assistant")
    assert answer.finish_reason == "cancelled" and answer.text == final["text"]
    # 400 tokens would take far longer than a stop; the tiny model's pieces are about a word each.
    assert len(final["text"].split()) < 300


def test_history_is_restored_on_reconnect_and_foreign_conversations_stay_hidden(
    daphne_server, operator, make_user
):
    with open_socket(daphne_server, operator) as socket:
        joined(socket)
        socket.send(json.dumps({"type": "ask", "question": "How often should a fan bearing be regreased?"}))
        final = until_final(socket)[-1]
    conversation_id = final["conversation"]["id"]

    for query in ("", f"?conversation={conversation_id}"):
        with open_socket(daphne_server, operator, query) as socket:
            history = joined(socket)
        assert history["conversation"]["id"] == conversation_id
        assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
        assert history["messages"][1]["text"] == final["text"]

    other = make_user(Role.OPERATOR, "other_operator")
    with open_socket(daphne_server, other, f"?conversation={conversation_id}") as socket:
        error = receive(socket)
        history = joined(socket)
    assert error["type"] == "error" and error["field"] == "conversation"
    assert history["conversation"] is None and history["messages"] == []


def test_bad_input_gets_error_frames_and_stores_nothing(daphne_server, operator, warning_motor):
    with open_socket(daphne_server, operator) as socket:
        joined(socket)
        cases = [
            ({"type": "ask", "question": "   "}, "question"),
            ({"type": "ask", "question": "x" * (MAX_QUESTION_CHARS + 1)}, "question"),
            ({"type": "ask", "question": "Why?", "machine": "no_such_machine"}, "machine"),
            ({"type": "ask", "question": "Why?", "conversation": 999999}, "conversation"),
            ({"type": "explain", "prediction": 999999}, "prediction"),
            ({"type": "explain", "prediction": "drop table"}, "prediction"),
            ({"type": "dance"}, "type"),
        ]
        for frame, field in cases:
            socket.send(json.dumps(frame))
            error = receive(socket)
            assert error["type"] == "error" and error["field"] == field, (frame, error)
            assert error["message"]
        socket.send("x" * (MAX_FRAME_CHARS + 1))
        assert receive(socket)["field"] == "question"
        socket.send("{not json")
        assert receive(socket)["type"] == "error"
        # The socket still works after all that.
        socket.send(json.dumps({"type": "ask", "question": "What is a bearing?"}))
        assert until_final(socket)[-1]["type"] == "final"
    assert Message.objects.count() == 2
    assert Explanation.objects.count() == 0


def test_one_generation_per_socket(daphne_server, operator):
    with open_socket(daphne_server, operator) as socket:
        joined(socket)
        socket.send(json.dumps({"type": "ask", "question": "What does high vibration mean?"}))
        socket.send(json.dumps({"type": "ask", "question": "And high current?"}))
        frames = [receive(socket)]
        while frames[-1]["type"] != "final":
            frames.append(receive(socket))
    refused = [frame for frame in frames if frame["type"] == "error"]
    assert len(refused) == 1 and refused[0]["message"].startswith("An answer is still being written")
    assert list(Message.objects.filter(role="user").values_list("text", flat=True)) == [
        "What does high vibration mean?"
    ]


def test_explain_sends_the_draft_first_then_streams_the_rewrite_and_keeps_it(
    daphne_server, operator, warning_motor
):
    machine, predictions = warning_motor
    health = predictions["health"]
    with open_socket(daphne_server, operator, "?conversation=new") as socket:
        joined(socket)
        socket.send(json.dumps({"type": "explain", "prediction": health.pk}))
        frames = until_final(socket)
        socket.send(json.dumps({"type": "explain", "machine": machine.machine_id}))
        again = until_final(socket)

    kinds = [frame["type"] for frame in frames]
    assert kinds.index("draft") < kinds.index("token")
    draft, final = frames[kinds.index("draft")], frames[-1]
    assert draft["machine"] == machine.machine_id and "bearing_de_temp_C" in draft["text"]
    assert draft["risk_factors"][0]["sensor"] in {"bearing_de_temp_C", "winding_temp_C", "vibration_mm_s"}
    assert final["source"] == "llm" and final["cached"] is False
    explanation = Explanation.objects.get(prediction=health)
    assert final["explanation"] == explanation.pk and explanation.text == final["text"]
    assert [frame["type"] for frame in again] == ["draft", "final"]
    assert again[-1]["cached"] is True and again[-1]["text"] == final["text"]


def test_a_viewer_reads_kept_explanations_but_cannot_ask_or_request_new_ones(
    daphne_server, viewer, operator, warning_motor
):
    _, predictions = warning_motor
    with open_socket(daphne_server, viewer, "?conversation=new") as socket:
        assert joined(socket)["can_ask"] is False
        socket.send(json.dumps({"type": "ask", "question": "Why?"}))
        assert receive(socket)["type"] == "error"
        socket.send(json.dumps({"type": "explain", "prediction": predictions["health"].pk}))
        refused = receive(socket)
    assert refused["type"] == "error" and refused["field"] == "prediction"

    with open_socket(daphne_server, operator, "?conversation=new") as socket:
        joined(socket)
        socket.send(json.dumps({"type": "explain", "prediction": predictions["health"].pk}))
        until_final(socket)
    with open_socket(daphne_server, viewer, "?conversation=new") as socket:
        joined(socket)
        socket.send(json.dumps({"type": "explain", "prediction": predictions["health"].pk}))
        frames = until_final(socket)
    assert [frame["type"] for frame in frames] == ["draft", "final"] and frames[-1]["cached"] is True
    assert Message.objects.count() == 0


@pytest.mark.slow  # idles past the 5 s Redis socket timeout on purpose
def test_an_idle_socket_still_answers(daphne_server, operator):
    with open_socket(daphne_server, operator) as socket:
        joined(socket)
        time.sleep(6.5)
        socket.send(json.dumps({"type": "ask", "question": "What is a bearing?"}))
        assert until_final(socket)[-1]["type"] == "final"
