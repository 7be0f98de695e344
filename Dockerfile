# syntax=docker/dockerfile:1
# tellonce: a static binary on a small non-root runtime image.
#   make image                      (docker or podman)
#   docker run -p 8080:8080 -e TELLONCE_DB=postgres://… tellonce
# The build command below is the one TestDockerfileBuildsTheBinary runs, so
# the image's binary is the one the tests built.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tellonce ./cmd/tellonce

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tellonce /usr/local/bin/tellonce
# The embedded SQLite default (./data) lives under the working directory;
# production points TELLONCE_DB at PostgreSQL.
WORKDIR /var/lib/tellonce
USER nonroot:nonroot
ENV TELLONCE_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/tellonce", "probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/tellonce"]
CMD ["serve"]
