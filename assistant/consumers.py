"""/ws/assistant/: streamed chat answers and explanations, a stop message, history on (re)connect.

Client → server:
    {"type": "ask", "question": "...", "machine"?: "<machine_id>" | null, "conversation"?: id}
    {"type": "explain", "prediction": id}  or  {"type": "explain", "machine": "<machine_id>"}
    {"type": "stop"}
Server → client:
    {"type": "history", "conversation": {...} | null, "messages": [...], "can_ask": bool}   on connect
    {"type": "queued", "position": n}        while waiting for the model (0: generating now)
    {"type": "draft", ...}                   explanations: the grounded draft, at once
    {"type": "token", "content": "...", "done": false}
    {"type": "final", "done": true, "kind": "chat" | "explanation", "text", "html", "citations", "source",
     "stats" (tokens, first_token_s, tokens_per_s, …), ...}
    {"type": "error", "message": "...", "field": "question" | "machine" | ... | null}

Viewers connect to read their history and kept explanations; asking and new explanations need an operator.
The model runs in a thread, one generation per socket: its tokens are handed to the event loop with
call_soon_threadsafe (never blocking the loop) and the socket sends whatever has gathered since its last send
as one frame, so a slow client costs frames, not model time.
"""

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.db import connections
from rest_framework.exceptions import ValidationError

from accounts.consumers import RoleConsumer
from accounts.roles import Role, has_role
from assistant import payloads
from assistant.llm import LLMError
from assistant.llm.answers import MAX_QUESTION_CHARS
from assistant.rendering import render_markdown
from assistant.selectors import conversation_messages, latest_conversation
from assistant.services.chat import KEEP_MACHINE, chat_answer, chat_check, conversation_of
from assistant.services.explanations import explanation_of, explanation_request, explanation_reusable
from assistant.services.grounding import explainable_prediction
from machines.models import Machine
from predictions.models import Prediction

logger = logging.getLogger(__name__)

# A question is at most MAX_QUESTION_CHARS; the rest of a frame is a few small fields.
MAX_FRAME_CHARS = MAX_QUESTION_CHARS * 4 + 1000


@dataclass(frozen=True)
class Last:
    """The generation's last frame (final or error): the socket takes a new request once it is sent."""

    frame: dict


class Generation:
    """One model request of a socket: its stop switch and the frames its thread hands to the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.stop_event = threading.Event()
        self.frames: asyncio.Queue = asyncio.Queue()

    def emit(self, frame) -> None:
        """Thread-safe: queue a frame for the socket without waiting for it to be sent."""
        try:
            self.loop.call_soon_threadsafe(self.frames.put_nowait, frame)
        except RuntimeError:
            self.stop_event.set()  # the server's loop is gone: nobody is listening any more

    def token(self, piece: str) -> None:
        self.emit({"type": "token", "content": piece, "done": False})

    def queued(self, position: int) -> None:
        self.emit({"type": "queued", "position": position})


class AssistantConsumer(RoleConsumer):
    required_role = Role.VIEWER
    # Set by joined(); a socket refused at connect never gets there and ignores what it is sent.
    user = None
    can_ask = False
    generation: Generation | None = None
    relay: asyncio.Task | None = None  # held here: the event loop keeps only a weak reference to a task

    async def joined(self):
        self.user = self.scope["user"]
        self.can_ask = await database_sync_to_async(has_role)(self.user, Role.OPERATOR)
        wanted = parse_qs(self.scope.get("query_string", b"").decode()).get("conversation", [""])[0]
        history, problem = await database_sync_to_async(self._history)(wanted)
        if problem:
            await self.send_error(problem, field="conversation")
        await self.send_json(history)

    def _history(self, wanted: str) -> tuple[dict, str | None]:
        problem, conversation = None, None  # ?conversation=new: a new one, nothing to restore
        if not wanted:
            conversation = latest_conversation(self.user)
        elif wanted != "new":
            conversation = conversation_of(self.user, wanted)
            if conversation is None:
                problem = f"No conversation {wanted[:20]} of yours."
        messages = conversation_messages(conversation) if conversation is not None else []
        frame = {
            "type": "history",
            "conversation": payloads.conversation_payload(conversation),
            "messages": [payloads.message_payload(message) for message in messages],
            "can_ask": self.can_ask,
        }
        return frame, problem

    async def disconnect(self, code):
        # The user left: free the model for the next one (a stopped chat answer keeps what it wrote).
        if self.generation is not None:
            self.generation.stop_event.set()

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None:
            return
        if text_data is None:
            await self.send_error("Send JSON text frames.", field=None)
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_error(
                f"The message is too long: a question is at most {MAX_QUESTION_CHARS:,} characters.",
                field="question",
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error('Send a JSON object such as {"type": "ask", "question": "…"}.', field=None)
            return
        if not isinstance(content, dict):
            await self.send_error("Send a JSON object with a type.", field="type")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        if kind == "stop":
            if self.generation is not None:
                self.generation.stop_event.set()
            return
        if kind not in ("ask", "explain"):
            await self.send_error('Unknown type: use "ask", "explain" or "stop".', field="type")
            return
        if self.generation is not None:
            await self.send_error("An answer is still being written: stop it or wait for it.", field="type")
            return
        if kind == "ask":
            await self._ask(content)
        else:
            await self._explain(content)

    # --- ask ------------------------------------------------------------------------------------------------

    async def _ask(self, content: dict):
        if not self.can_ask:
            await self.send_error("Asking needs the operator role; viewers read the history.", field=None)
            return
        try:
            request = await database_sync_to_async(chat_check)(
                user=self.user,
                question=content.get("question"),
                machine=content.get("machine", KEEP_MACHINE),
                conversation=content.get("conversation"),
            )
        except ValidationError as exc:
            await self._send_validation_error(exc)
            return

        def work(generation: Generation) -> dict:
            outcome = chat_answer(
                request,
                on_token=generation.token,
                on_queue_position=generation.queued,
                stop_event=generation.stop_event,
            )
            payload = outcome.payload
            return {
                "type": "final",
                "done": True,
                "kind": "chat",
                "conversation": payloads.conversation_payload(outcome.conversation),
                "message": outcome.answer.pk if outcome.answer else None,
                "question": payloads.message_payload(outcome.question) if outcome.question else None,
                "text": payload["text"],
                "html": render_markdown(payload["text"]),
                "source": payload["source"],
                "citations": payload["citations"],
                "cited": payload["cited"],
                "model": payload["model"],
                "seconds": payload["seconds"],
                "finish_reason": payload["finish_reason"],
                "stopped": payload["finish_reason"] == "cancelled",
                "error": payload["error"],
                "stats": payload["stats"],
            }

        self._start(work)

    # --- explain --------------------------------------------------------------------------------------------

    async def _explain(self, content: dict):
        try:
            prediction = await database_sync_to_async(self._explain_target)(content)
        except ValidationError as exc:
            await self._send_validation_error(exc)
            return
        kept = await database_sync_to_async(explanation_of)(prediction)
        if kept is not None and (explanation_reusable(kept) or not self.can_ask):
            await self.send_json(await database_sync_to_async(payloads.explanation_draft_payload)(kept))
            await self.send_json(await database_sync_to_async(payloads.explanation_final)(kept, cached=True))
            return
        if not self.can_ask:
            await self.send_error(
                "No explanation of this prediction yet: an operator can request one.", field="prediction"
            )
            return

        def work(generation: Generation) -> dict:
            outcome = explanation_request(
                prediction=prediction,
                user=self.user,
                on_draft=lambda draft: generation.emit(payloads.draft_payload(draft, prediction.pk)),
                on_token=generation.token,
                on_queue_position=generation.queued,
                stop_event=generation.stop_event,
            )
            if outcome.explanation is None:
                return payloads.stopped_explanation_final(outcome.payload, prediction.pk)
            if outcome.cached:  # kept by another request meanwhile: its draft was not sent yet
                generation.emit(payloads.explanation_draft_payload(outcome.explanation))
            return payloads.explanation_final(outcome.explanation, cached=outcome.cached)

        self._start(work)

    def _explain_target(self, content: dict) -> Prediction:
        """The prediction named, or the latest explainable one of the machine named; 400-style errors."""
        if content.get("prediction") is not None:
            value = content["prediction"]
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
                raise ValidationError({"prediction": ["a prediction id (a whole number)"]})
            prediction = Prediction.objects.select_related("machine__category").filter(pk=int(value)).first()
            if prediction is None:
                raise ValidationError({"prediction": [f"unknown prediction {value}"]})
            return prediction
        machine_id = content.get("machine")
        if not isinstance(machine_id, str) or not machine_id:
            raise ValidationError({"prediction": ["name a prediction (or a machine)"]})
        machine = Machine.objects.select_related("category").filter(machine_id=machine_id).first()
        if machine is None:
            raise ValidationError({"machine": [f"unknown machine {machine_id[:100]!r}"]})
        prediction = explainable_prediction(machine)
        if prediction is None:
            raise ValidationError({"machine": [f"{machine_id} has no prediction to explain yet"]})
        return prediction

    # --- running a generation ----------------------------------------------------------------------------

    def _start(self, work: Callable[[Generation], dict]) -> None:
        generation = Generation(asyncio.get_running_loop())
        self.generation = generation
        self.relay = asyncio.create_task(self._relay(generation))
        threading.Thread(
            target=self._run, args=(generation, work), name="assistant-generation", daemon=True
        ).start()

    @staticmethod
    def _run(generation: Generation, work: Callable[[Generation], dict]) -> None:
        try:
            final = work(generation)
        except ValidationError as exc:
            final = _validation_frame(exc)
        except LLMError as exc:
            final = {"type": "error", "message": f"The assistant model failed: {exc}", "field": None}
        except Exception:
            logger.exception("assistant generation failed")
            final = {
                "type": "error",
                "message": "The assistant failed; the error is in the server log.",
                "field": None,
            }
        finally:
            connections.close_all()  # this thread's own connections: the thread ends here
        generation.emit(Last(final))

    async def _relay(self, generation: Generation) -> None:
        """Sends the thread's frames in order; token pieces that gathered meanwhile go as one frame."""
        held = None
        try:
            while True:
                frame = held if held is not None else await generation.frames.get()
                held = None
                if isinstance(frame, Last):
                    # Free the socket before sending: the client may answer the final frame at once.
                    self.generation = None
                    await self.send_json(frame.frame)
                    return
                if frame["type"] == "token":
                    pieces = [frame["content"]]
                    while not generation.frames.empty():
                        following = generation.frames.get_nowait()
                        if isinstance(following, Last) or following["type"] != "token":
                            held = following
                            break
                        pieces.append(following["content"])
                    frame = {"type": "token", "content": "".join(pieces), "done": False}
                await self.send_json(frame)
        finally:
            if self.generation is generation:
                self.generation = None

    async def _send_validation_error(self, exc: ValidationError) -> None:
        await self.send_json(_validation_frame(exc))


def _validation_frame(exc: ValidationError) -> dict:
    detail = exc.detail
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        return {"type": "error", "message": f"{field}: {message}", "field": field}
    message = detail[0] if isinstance(detail, list) and detail else detail
    return {"type": "error", "message": str(message), "field": None}
