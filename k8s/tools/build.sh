#!/usr/bin/env bash
# Builds the control-plane binaries the Kubernetes tests run (internal/k8sharness):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
# all from the Go module proxy, into one directory.
#
#   k8s/tools/build.sh [BIN_DIR]      (default: $IAASBENCH_K8S_BIN or
#                                      $HOME/.cache/iaasbench/k8s/bin)
#
# A cold build costs ~1,900 CPU-seconds, 2.4 GB RAM and 6 GB of build cache,
# so it runs niced and skips everything when BIN_DIR/VERSIONS already names
# these versions (FORCE=1 rebuilds). Set GOFLAGS=-p=1 on a shared machine.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${IAASBENCH_K8S_BIN:-$HOME/.cache/iaasbench/k8s/bin}}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
want="kubernetes=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"

have_all() {
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
		[ -x "$bin/$b" ] || return 1
	done
	[ "$(cat "$bin/VERSIONS" 2>/dev/null)" = "$want" ]
}

if [ "${FORCE:-0}" != 1 ] && have_all; then
	echo "k8s tools up to date in $bin ($want)"
	exit 0
fi

go=${GO:-go}
nice=${NICE:-nice -n 19}
rm -f "$bin/VERSIONS"

# Without these the servers report v0.0.0-master and client-go refuses the
# version; both the component-base and the client-go copies are read.
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
	ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

cd "$here"
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
	echo "building $cmd $K8S_VERSION"
	$nice "$go" build -trimpath -ldflags "$ld" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

echo "building etcd $ETCD_VERSION"
$nice "$go" build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3

# kwok's go.mod has no replace directives, so the plain install works and
# keeps its own k8s.io versions (they differ from the control plane's).
echo "building kwok $KWOK_VERSION"
GOBIN="$bin" $nice "$go" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

echo "$want" >"$bin/VERSIONS"
echo "k8s tools built in $bin ($want)"
