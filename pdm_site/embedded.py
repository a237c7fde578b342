"""Embedded mode: the Celery worker (a thread pool) and beat run inside the web process."""

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)
_services: tuple | None = None  # (worker, worker thread, beat) once started
_started = threading.Lock()


def worker_alive() -> bool:
    return _services is not None and _services[1].is_alive()


def start_worker() -> None:
    """Start the in-process worker and beat once; jobs left by a previous process are resumed or failed."""
    global _services
    with _started:
        if _services is not None:
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
        thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
        thread.start()
        beat = EmbeddedService(app, thread=True, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME)
        beat.start()
        _services = (worker, thread, beat)
        # The memory broker lost whatever was queued before this process started.
        recovered = jobs_recover_after_restart()
        logger.info("Embedded worker started (%s threads); %s", settings.EMBEDDED_WORKER_THREADS, recovered)


def stop_worker() -> None:
    """Stop with the server, promptly: beat stops, queued tasks are dropped (the memory broker loses them
    anyway), running jobs end at their next step as failed with the reason, and short tasks finish."""
    from gan.services.progress import interrupt_running_jobs

    if _services is None:
        return
    worker, _thread, beat = _services
    beat.stop()
    interrupt_running_jobs()
    worker.stop(in_sighandler=False)
    logger.info("Embedded worker stopped")
