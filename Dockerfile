# The ioc image: the worker, the operators' commands and the simulators (`ioc --help`).
# Build: docker build -t ioc:0.1.0 .
FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ioc ./ioc
COPY simulators ./simulators
RUN python -m pip install --no-cache-dir --upgrade pip==24.3.1 \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.7-slim-bookworm
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && useradd --system --uid 10001 --home-dir /var/lib/ioc --create-home ioc
USER 10001
ENV IOC_DATA_DIR=/var/lib/ioc \
    IOC_WEB_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/ioc
EXPOSE 6066
ENTRYPOINT ["ioc"]
CMD ["worker"]
