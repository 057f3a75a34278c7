# One image for every onestop service: `onestop init`, `onestop worker NAME`, `onestop check`.
# Build: docker build -t onestop .   (see docker-compose.yml for the production shape)

# The build stage: the package in a virtual environment, and the settlement rules compiled to C
# (`onestop compile-rules`, a third to a half faster: README "Benchmarks"). The compiler and mypyc
# are needed only here; the image below takes the environment without them.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*

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
COPY console/ console/
# compile-rules builds next to the installed sources and records their hashes, so the workers run
# the compiled rules (schemas/compiled.py); the compiled code needs nothing of mypy at run time.
RUN python -m venv /opt/onestop \
 && /opt/onestop/bin/pip install '.[compiled]' \
 && /opt/onestop/bin/onestop compile-rules \
 && /opt/onestop/bin/pip uninstall -y mypy mypy_extensions librt pathspec

FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/onestop/bin:$PATH

# The runtime dependencies all ship as manylinux wheels: no compiler in this image.
COPY --from=build /opt/onestop /opt/onestop

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
