#!/bin/sh
# Speed benchmarks for `make bench`, run from the repository root. They
# load the machine: run them on an otherwise idle one.
set -e
# The talk's 500,000 inferences (62,500 requests of batch 8, concurrency 8)
# through the embedded server, client included; one op is the whole workload.
go test ./bench -run '^$' -bench Talk500k -benchtime 1x
# iaasbench's load loop against a minimal grpc-go loop and ghz, same model,
# concurrency and duration, unary and streaming (ghz: unary only; skipped
# with a message when it is not installed).
go run ./bench/loadcmp -c 8 -d 3s -rounds 3
# iaasbench serve as its own process beside a server that does no work,
# driven by a minimal client on Triton's protos (1 connection, 8 in
# flight, the talk's job), unary and stream, interleaved rounds; prints
# seconds and the ratio to the no-work ceiling (targets ≤ 1.4× unary,
# ≤ 1.75× stream). About 2 minutes.
go run ./bench/serverproc -rounds 3
# The load loop's own work per request allocates nothing; a measurement's
# client memory does not grow with its request count.
go test ./measure -run '^$' -bench Record
go test ./measure -run '^$' -bench ClientMemory -benchtime 1x
# iaasbench measure over KServe v2 REST (binary tensors and JSON) against a
# minimal net/http loop posting the same bytes, and HTTP beside gRPC, all
# on one `iaasbench serve` process; fails below 0.9× the minimal loop for
# the binary extension.
go run ./bench/httpcmp -c 8 -d 2s -rounds 5
# A prepared HTTP call's allocations per request beside a minimal net/http
# client's (server in the same process: both include its share).
go test ./client -run '^$' -bench HTTPCall -benchtime 3000x
