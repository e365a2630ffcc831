# iaasbench image: the CLI (sweep, serve, agent, report, ...).
#
#   docker build -t iaasbench:latest --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm iaasbench:latest version
#
# Build stage: cgo is on because go-nvml loads libnvidia-ml through cgo
# (the NVIDIA container toolkit mounts the library at run time; without
# it iaasbench reports no GPUs and still runs).
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 CGO_CFLAGS=-Wno-deprecated-declarations GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/iaasbench ./cmd/iaasbench

# Run stage: distroless base has Debian 12's glibc, the one the binary
# was linked against in golang:*-bookworm, and no shell or package manager.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/iaasbench /usr/local/bin/iaasbench
# Results and reports go to the working directory; mount a volume here.
WORKDIR /work
USER nonroot:nonroot
# gRPC and metrics of `iaasbench serve --addr 0.0.0.0:8001 --metrics-addr 0.0.0.0:8002`.
EXPOSE 8001 8002
ENTRYPOINT ["/usr/local/bin/iaasbench"]
CMD ["--help"]
