package main

import (
	"strings"
	"testing"
)

func TestCampaignCapacityFlags(t *testing.T) {
	f := func(capacity, mau, want uint64) {
		t.Helper()
		got, err := campaignCapacity(capacity, mau)
		if err != nil || got != want {
			t.Fatalf("campaignCapacity(%d, %d): got %d (%v); want %d", capacity, mau, got, err, want)
		}
	}
	f(0, 0, 0)
	f(500, 0, 500)
	f(0, 100000, 300000) // Stream's example: a 100,000 MAU plan sends 300,000 campaign messages a month

	if _, err := campaignCapacity(500, 100); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both flags: unexpected error %v", err)
	}
	if _, err := campaignCapacity(0, 1<<63); err == nil {
		t.Fatalf("an MAU whose triple overflows: no error")
	}
}
