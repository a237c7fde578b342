"""Embedded mode: the Celery worker (a thread pool) and beat run inside the web process."""

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)
_worker_thread: threading.Thread | None = None
_started = threading.Lock()


def worker_alive() -> bool:
    return _worker_thread is not None and _worker_thread.is_alive()


def start_worker() -> None:
    """Start the in-process worker and beat once; jobs left by a previous process are resumed or failed."""
    global _worker_thread
    with _started:
        if _worker_thread is not None:
            return
        from celery.beat import EmbeddedService

        from gan.services.jobs import jobs_recover_after_restart
        from pdm_site.celery import app

        # app.Worker wants the main thread for its signal handlers; WorkController does not.
        worker = app.WorkController(
            pool_cls="threads",
            concurrency=settings.EMBEDDED_WORKER_THREADS,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
        )
        _worker_thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
        _worker_thread.start()
        EmbeddedService(app, thread=True, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME).start()
        # The memory broker lost whatever was queued before this process started.
        recovered = jobs_recover_after_restart()
        logger.info("Embedded worker started (%s threads); %s", settings.EMBEDDED_WORKER_THREADS, recovered)
