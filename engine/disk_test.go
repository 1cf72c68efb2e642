package engine

import (
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// TestFanoutWaitsForDiskSpace: with the free-space threshold above what the disk holds, a started
// campaign sends nothing (the fan-out waits before its first chunk), CheckDiskSpace answers a
// 507, and a stop ends the wait at once. (cmd/campaignd's tmpfs test fills a real filesystem and
// shows the recovery.)
func TestFanoutWaitsForDiskSpace(t *testing.T) {
	clock := newTestClock()
	e := openTestEngine(t, t.TempDir(), Options{Now: clock.Now, MinFreeDiskSpace: 1 << 62})
	mustAudience(t, e, 10)
	mustStart(t, e)
	if !e.DiskSpaceLow() {
		t.Fatal("the disk is not seen as low")
	}
	ae, ok := AsError(e.CheckDiskSpace())
	if !ok || ae.Status != 507 || ae.Code != CodeInternal {
		t.Fatalf("unexpected CheckDiskSpace error %v", ae)
	}
	mustCreateCampaign(t, e, fanoutCampaign)
	mustStartCampaign(t, e, "c", `{}`)
	time.Sleep(500 * time.Millisecond)
	c, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != storage.CampaignInProgress || c.Run.Done != 0 {
		t.Fatalf("the campaign went on while the disk was low: %s, %d done", c.Status, c.Run.Done)
	}
	start := time.Now()
	if _, err := e.StopCampaign("c"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, "c", storage.CampaignStopped)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stopping a campaign waiting for disk space took %s", took)
	}

	stop := make(chan struct{})
	done := make(chan bool)
	go func() { done <- e.waitDiskSpace(stop, nil) }()
	select {
	case <-done:
		t.Fatal("waitDiskSpace returned while the disk is low")
	case <-time.After(300 * time.Millisecond):
	}
	close(stop)
	if <-done {
		t.Fatal("waitDiskSpace reported space after stop")
	}
}
