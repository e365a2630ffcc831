// Command nowork is the ceiling for bench/serverproc: a gRPC server on
// Triton's protos (the same generated code iaasbench serve uses) whose
// ModelInfer and ModelStreamInfer do no work at all. They answer every
// request with one fixed response shaped like the mlp's (output y of
// batch×1 FP32), so the client reads as many bytes as from the real
// server. What a real server takes beyond this one is its own cost.
//
//	nowork -addr 127.0.0.1:0 -batch 8
//
// It prints "nowork: gRPC on ADDR" (and, with -pprof, where its profiles
// are) once it listens and stops on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"

	"google.golang.org/grpc"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/pprofhttp"
)

// service answers with a fixed response. The response is shared: gRPC
// only reads it while marshalling, and nothing writes it after start-up.
type service struct {
	pb.UnimplementedGRPCInferenceServiceServer
	resp   *pb.ModelInferResponse
	stream *pb.ModelStreamInferResponse
}

func (s *service) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (s *service) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: true}, nil
}

func (s *service) ModelReady(context.Context, *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	return &pb.ModelReadyResponse{Ready: true}, nil
}

func (s *service) ModelInfer(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return s.resp, nil
}

// ModelStreamInfer answers each request in turn on the receiving
// goroutine: the least a stream can do.
func (s *service) ModelStreamInfer(stream grpc.BidiStreamingServer[pb.ModelInferRequest, pb.ModelStreamInferResponse]) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
		if err := stream.Send(s.stream); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "gRPC listen address (loopback)")
	batch := flag.Int("batch", 8, "rows of the fixed response's output")
	pprofAddr := flag.String("pprof", "", "serve Go's profiles on this loopback address, as iaasbench serve --pprof")
	flag.Parse()
	if err := run(*addr, *batch, *pprofAddr); err != nil {
		fmt.Fprintln(os.Stderr, "nowork:", err)
		os.Exit(1)
	}
}

func run(addr string, batch int, pprofAddr string) error {
	pprofAt := ""
	if pprofAddr != "" {
		debug, err := pprofhttp.Start(pprofAddr, slog.Default())
		if err != nil {
			return err
		}
		defer debug.Close()
		pprofAt = ", pprof on http://" + debug.Addr() + "/debug/pprof/"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	resp := &pb.ModelInferResponse{
		ModelName: "mlp", ModelVersion: "1",
		Outputs:           []*pb.ModelInferResponse_InferOutputTensor{{Name: "y", Datatype: "FP32", Shape: []int64{int64(batch), 1}}},
		RawOutputContents: [][]byte{make([]byte, 4*batch)},
	}
	// The same transport settings as iaasbench serve (server.Start), so
	// that only the work differs.
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(256<<20),
		grpc.MaxSendMsgSize(256<<20),
		grpc.InitialWindowSize(4<<20),
		grpc.InitialConnWindowSize(16<<20),
		grpc.NumStreamWorkers(uint32(max(64, 8*goruntime.GOMAXPROCS(0)))),
	)
	pb.RegisterGRPCInferenceServiceServer(srv, &service{resp: resp, stream: &pb.ModelStreamInferResponse{InferResponse: resp}})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	fmt.Printf("nowork: gRPC on %s%s\n", lis.Addr(), pprofAt)
	return srv.Serve(lis)
}
