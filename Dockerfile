# syntax=docker/dockerfile:1
#
# One image for every role of Campaign Dispatch: `campaign-dispatch api | worker |
# scheduler | migrate | seed | serve` (docker-compose.yml runs them side by side).
#
#   docker build -t campaign-dispatch .
#   docker run --rm -p 8000:8000 campaign-dispatch campaign-dispatch serve   # embedded mode
#
# Layout inside the image (the code depends on it):
#   /app/alembic.ini, /app/migrations/   campaign_dispatch/db/migrate.py finds alembic.ini
#                                        at Path(__file__).parents[3] = /app
#   /app/src/campaign_dispatch/          the package, installed *editable* into the venv
#                                        (a .pth file naming /app/src), never copied into
#                                        site-packages, so parents[3] stays /app
#   /app/web/dist/                       the built dashboard (WEB_DIST_DIR)
#   /app/.venv/                          the locked runtime dependencies (no dev group)
# The builder and the runtime use the same base image and the same /app paths, so the
# venv's interpreter link and the editable .pth stay valid after the copy.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# ---------------------------------------------------------------------------------------
# 1. Dashboard: npm ci from the lockfile, then `npm run build` (tsc + vite) into dist/.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build && test -f dist/index.html

# ---------------------------------------------------------------------------------------
# 2. Python environment with uv, from uv.lock, without the dev dependency group.
FROM ${PYTHON_IMAGE} AS python-build
ARG UV_VERSION=0.13.9
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --disable-pip-version-check --root-user-action=ignore "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first: this layer is reused until pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
# Then the project itself, editable (see the layout note above): its console script
# `campaign-dispatch` lands in /app/.venv/bin. README.md is the package's readme.
COPY README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
 && /app/.venv/bin/python -c "import campaign_dispatch.db.migrate as m; assert str(m.ALEMBIC_INI) == '/app/alembic.ini', m.ALEMBIC_INI"

# ---------------------------------------------------------------------------------------
# 3. Runtime: the venv, the application source, the migrations and the dashboard only.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app/data \
        --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=python-build /app/.venv /app/.venv
COPY alembic.ini ./
COPY migrations/ migrations/
COPY src/ src/
COPY --from=web /web/dist web/dist
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_DIST_DIR=/app/web/dist \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite:////app/data/campaign_dispatch.db
# Code is root-owned and read-only for the app user; /app/data is its one writable
# place (the SQLite file of the embedded `serve` mode). Bytecode is compiled here
# because the app user cannot write __pycache__ next to the source.
RUN python -m compileall -q src migrations \
 && mkdir data && chown app:app data \
 && campaign-dispatch --help > /dev/null \
 && test -f "$WEB_DIST_DIR/index.html" && test -f alembic.ini
USER 10001:10001
EXPOSE 8000
# Liveness of the HTTP roles (api, serve); slim has no curl. docker-compose.yml turns
# it off for worker, scheduler and migrate, which serve no HTTP.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["campaign-dispatch", "api"]
