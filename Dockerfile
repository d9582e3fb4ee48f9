# The mediaq image: API, CPU workers, scheduler and migrations run from it (k8s/ refers to it as
# ghcr.io/example/mediaq:0.1.0). The GPU workers use the same file with the neural extras:
#   docker build -t ghcr.io/example/mediaq:0.1.0 .
#   docker build --build-arg EXTRAS=neural,gpu -t ghcr.io/example/mediaq:0.1.0-gpu .
# (PyPI's torch and TensorRT wheels bring their CUDA libraries; the node provides the driver.)
# Not built in CI: the development machines have no container engine.
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# No system packages: espeak-ng (espeakng-loader), ffmpeg (imageio-ffmpeg), the CJK font and the
# C2PA library all come as wheels.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY producer producer
COPY workers workers
COPY migrations migrations
RUN pip install ".${EXTRAS:+[$EXTRAS]}" && rm -rf /src

# A fixed non-root user (the manifests run as 10001). Its home is the data folder, which the
# manifests mount as an emptyDir so the root filesystem can stay read-only.
RUN groupadd --system --gid 10001 mediaq \
    && useradd --system --uid 10001 --gid mediaq --home-dir /var/lib/mediaq --no-create-home \
       --shell /usr/sbin/nologin mediaq \
    && mkdir -p /var/lib/mediaq \
    && chown mediaq:mediaq /var/lib/mediaq
ENV HOME=/var/lib/mediaq MEDIAQ_DATA_DIR=/var/lib/mediaq
WORKDIR /var/lib/mediaq
USER 10001:10001

EXPOSE 8000
ENTRYPOINT ["mediaq"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
