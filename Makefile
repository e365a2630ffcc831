# iaasbench: build, test, benchmark, regenerate protobuf code.
GO      ?= go
BIN     ?= bin/iaasbench
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export CGO_CFLAGS ?= -Wno-deprecated-declarations

.PHONY: all build run test test-timing test-race bench stress lint proto fuzz clean k8s-tools test-k8s

# Where the Kubernetes control-plane binaries are built and cached.
K8S_BIN ?= $(HOME)/.cache/iaasbench/k8s/bin

all: lint test build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/iaasbench

# The main job: sweep the quickstart scenario on the embedded server.
run: build
	./$(BIN) sweep

# The quick suite (README's test command). Slow suites have their own targets.
test:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) test -count=1 -timeout 8m ./...

# Checks of measured time (service times, load shapes, emulated-GPU
# capacity) that need a machine without other work: build tag "timing",
# tests named TestTiming*, each tolerance argued beside it. One package at
# a time (-p 1), so that the suite does not load the machine itself.
test-timing:
	$(GO) test -tags timing -run '^TestTiming' -count=1 -p 1 -timeout 15m ./...

test-race:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Long runs (~30 min; on an otherwise idle machine): throughput and ratio
# benchmarks, each comparing its contenders in one run. The gate's rates
# (18-23 min): 30 interleaved A/A and A/B gate runs of ci-gate-12, 10 of the
# others (docs/ci-gate.md).
bench:
	sh bench/run.sh
	$(GO) test -run '^$$' -bench MLPInstancesBatching -benchtime 1x ./server/
	$(GO) test -run '^$$' -bench DenseBatch8 -benchtime 2000x ./internal/backend/
	$(GO) test -run '^$$' -bench AgentsVsOneProcess -benchtime 1x ./agent/
	$(GO) test -run '^$$' -bench 'GateRates/^ci-gate-12$$/interleaved' -benchtime 30x -timeout 40m ./gate/
	$(GO) test -run '^$$' -bench 'GateRates/^ci-gate-12$$/sequential|GateRates/^ci-gate$$/' -benchtime 10x -timeout 40m ./gate/
	$(GO) test -run '^$$' -bench 'AdaptiveVsGrid|AdaptiveRandomSystems|AdaptiveVsGridEmbedded' -benchtime 1x ./sweep/
	$(GO) test -run '^$$' -bench Large -benchtime 3x ./simulate/

# Memory under a burst: 16 concurrent 250 MB ModelInfer calls against
# `iaasbench serve` in its own process; RSS idle, at peak and after, beside
# a server that gets no burst. Needs ~2.5 GB free; not part of `make test`.
stress:
	$(GO) run ./bench/burst -n 16 -size 250MB

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./scenarios/
	$(GO) test -run '^$$' -fuzz FuzzModelInfer -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime $(FUZZTIME) ./results/

# Regenerate the protobuf code (protoc from Debian's protobuf-compiler;
# the Go plugins from the module proxy).
proto:
	@command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I proto \
		--go_out=. --go_opt=module=github.com/iaasbench/iaasbench \
		--go-grpc_out=. --go-grpc_opt=module=github.com/iaasbench/iaasbench \
		proto/*.proto

# etcd, kube-apiserver/-controller-manager/-scheduler v1.37.2 and kwok,
# built from the Go module proxy: ~20-40 min cold on 2 cores, then cached.
k8s-tools:
	k8s/tools/build.sh $(K8S_BIN)

# The Kubernetes target against a real local control plane (kwok fakes
# GPU nodes and pod lifecycles).
test-k8s: k8s-tools
	IAASBENCH_K8S_BIN=$(K8S_BIN) $(GO) test -tags k8s -count=1 -timeout 10m ./k8s/...

clean:
	rm -rf bin
