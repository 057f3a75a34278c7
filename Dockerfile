# One image for every onestop service: `onestop init`, `onestop worker NAME`, `onestop check`.
# Build: docker build -t onestop .   (see docker-compose.yml for the production shape)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The runtime dependencies all ship as manylinux wheels, so no compiler is needed.
# Only what `pip install .` packages is copied: no tests, no benchmarks, no dev/test extras.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY policies/ policies/
COPY streams/ streams/
COPY store/ store/
COPY workers/ workers/
COPY runtime/ runtime/
COPY cli/ cli/
COPY reports/ reports/
RUN pip install . \
 && cd / && rm -rf /src

# A CJK font for the PDF statements and slips (Chinese text embedded as a subset).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei && rm -rf /var/lib/apt/lists/*

# Non-root. Its home is the working directory, so anything a worker writes next to
# itself (e.g. a Faust data directory) has somewhere writable to go.
RUN groupadd --system --gid 10001 onestop \
 && useradd --system --uid 10001 --gid onestop --create-home --home-dir /home/onestop \
      --shell /usr/sbin/nologin onestop
USER onestop:onestop
WORKDIR /home/onestop

ENTRYPOINT ["onestop"]
CMD ["--help"]
