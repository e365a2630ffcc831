package k8s

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOwnedRefusesOtherSweepsAndStrangers(t *testing.T) {
	tg := &Target{sweepID: "quickstart-0a1b2c3d"}
	mine := metav1.ObjectMeta{Name: "x", Namespace: "ns", Labels: map[string]string{LabelManagedBy: ManagedBy, LabelSweep: "quickstart-0a1b2c3d"}}
	if err := tg.owned("deployment", mine); err != nil {
		t.Errorf("own object refused: %v", err)
	}
	other := mine
	other.Labels = map[string]string{LabelManagedBy: ManagedBy, LabelSweep: "quickstart-ffffffff"}
	err := tg.owned("deployment", other)
	if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), `sweep "quickstart-ffffffff"`) {
		t.Errorf("another sweep's object: %v", err)
	}
	stranger := mine
	stranger.Labels = nil
	err = tg.owned("service", stranger)
	if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "service ns/x") || !strings.Contains(err.Error(), "not managed by iaasbench") {
		t.Errorf("a stranger's object: %v", err)
	}
}

func TestPodFailureReasons(t *testing.T) {
	unsched := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u1"}, Status: corev1.PodStatus{
		Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}}}}
	since := map[string]time.Time{}
	if f := podFailure(&unsched, since, time.Hour); f != nil {
		t.Errorf("unschedulable for an instant already fails: %v", f)
	}
	since["u1"] = time.Now().Add(-2 * time.Hour)
	f := podFailure(&unsched, since, time.Hour)
	if f == nil || f.Reason != "Unschedulable" || !strings.Contains(f.Error(), "Insufficient nvidia.com/gpu") {
		t.Errorf("unschedulable past the timeout: %v", f)
	}

	crash := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "tritonserver",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "failed to load all models"}}}}}}
	f = podFailure(&crash, since, time.Hour)
	if f == nil || f.Reason != "CrashLoopBackOff" || !strings.Contains(f.Message, "exit code 1") || !strings.Contains(f.Message, "failed to load all models") {
		t.Errorf("crash loop: %v", f)
	}

	creating := crash
	creating.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "tritonserver",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	if f := podFailure(&creating, since, time.Hour); f != nil {
		t.Errorf("a container being created is not a failure: %v", f)
	}
	evicted := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "UnexpectedAdmissionError",
		Message: "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu"}}
	if f := podFailure(&evicted, since, time.Hour); f == nil || f.Reason != "UnexpectedAdmissionError" {
		t.Errorf("failed pod: %v", f)
	}
}
